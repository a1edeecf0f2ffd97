"""Training backends: one module per backend, each a `Backend`, listed in `BACKENDS`.

A backend turns the built dataset into an artifact (`train`), says which of the
project's settings its result depends on (`fingerprint`), builds the predictor for an
artifact or for the base model it starts from (`predictor`), and words its result
(`describe`). `get_backend` is the one place a backend is chosen by name; adding one is
a new module here and one line in `BACKENDS` (docs/architecture.md, "Adding a backend").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from mcptrain.dataset.handle import Dataset
from mcptrain.errors import ConfigError
from mcptrain.specs.models import ProjectSpec
from mcptrain.suggestions import did_you_mean
from mcptrain.training.backends import lora, openai, prompt
from mcptrain.training.predictor import Predictor
from mcptrain.training.progress import OnProgress


@dataclass(frozen=True)
class TrainJob:
    """One training run: what to train on, where the artifact goes, how to report."""

    project: ProjectSpec
    dataset: Dataset
    target: Path
    run_name: str
    inputs: str  # the hash of everything the result depends on
    runner: str = "ray"  # lora: "ray" or "inline"
    on_progress: OnProgress | None = None
    failed_rows: Callable[[], list[dict[str, Any]]] = lambda: []  # the last evaluation's misses


class Backend(Protocol):
    name: str
    cloud: bool  # the training data leaves the organisation (refused for `allow_cloud: false` services)

    def fingerprint(self, project: ProjectSpec) -> dict[str, Any]:
        """The project settings (beyond base model, system prompt and data) a result depends on."""
        ...

    def baseline_settings(self, project: ProjectSpec) -> dict[str, Any] | None:
        """What, besides the base model, shapes the base model's outputs (keys the baseline cache)."""
        ...

    def progress_total(self, project: ProjectSpec) -> int:
        """Steps the progress bar counts to (0: unknown)."""
        ...

    def estimate(self, project: ProjectSpec, dataset: Dataset) -> dict[str, Any] | None:
        """What a paid job will bill (tokens, epochs, price; `description`: one line to show
        before asking for confirmation), recorded in the summary; None: nothing is billed."""
        ...

    def train(self, job: TrainJob) -> dict[str, Any]:
        """Train into `job.target`; the summary recorded with the stage."""
        ...

    def predictor(self, project: ProjectSpec, artifact: Path | None) -> Predictor:
        """The predictor for `artifact` (None: the base model this backend starts from)."""
        ...

    def describe(self, summary: dict[str, Any]) -> str:
        """One line about a finished training, from its summary."""
        ...


BACKENDS: dict[str, Backend] = {
    "lora": lora.LoraBackend(),
    "openai": openai.OpenAIBackend(),
    "prompt": prompt.PromptBackend(),
}


def get_backend(name: str) -> Backend:
    try:
        return BACKENDS[name]
    except KeyError:
        raise ConfigError(f"unknown backend {name!r}; choose from {', '.join(sorted(BACKENDS))}",
                          hint=did_you_mean(name, BACKENDS)) from None


def make_predictor(project: ProjectSpec, artifact: Path | None) -> Predictor:
    """The predictor for what the project's backend produced in `artifact` (None: the base model)."""
    return get_backend(project.backend).predictor(project, artifact)
