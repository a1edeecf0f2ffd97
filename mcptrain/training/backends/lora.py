"""Backend `lora`: a LoRA adapter trained here (transformers + peft, on Ray Train or inline).

The training itself is `mcptrain.training.lora`; this module is what the stages see of it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from mcptrain.dataset.handle import Dataset
from mcptrain.specs.models import ProjectSpec
from mcptrain.training.batches import PLAN_VERSION
from mcptrain.training.predictor import Predictor, local_predictor

if TYPE_CHECKING:
    from mcptrain.training.backends import TrainJob

# The training summary keys recorded with the stage.
SUMMARY_KEYS = ("steps", "train_loss_final", "val_loss_final", "tokens_per_s", "train_seconds",
                "wall_seconds", "stopped_early", "best_step", "resumed_from", "precision")


class LoraBackend:
    name = "lora"
    cloud = False
    trains_locally = True  # rows longer than training.max_seq_len are left out (`training/lengths.py`)

    def estimate(self, project: ProjectSpec, dataset: Dataset) -> dict[str, Any] | None:
        return None  # trains on this machine or cluster: nothing billed per token

    def fingerprint(self, project: ProjectSpec) -> dict[str, Any]:
        return {"training": project.training.model_dump(mode="json"),
                "batch_plan": PLAN_VERSION}  # which rows each step sees

    def baseline_settings(self, project: ProjectSpec) -> dict[str, Any] | None:
        return None

    def progress_total(self, project: ProjectSpec) -> int:
        return project.training.max_steps

    def train(self, job: TrainJob) -> dict[str, Any]:
        from mcptrain.training.lora import train_lora

        result = train_lora(job.project, job.dataset.rows("train"), job.dataset.rows("validation"), job.target,
                            job.run_name, on_progress=job.on_progress,
                            runner="inline" if job.runner == "inline" else "ray")
        return {k: result.summary.get(k) for k in SUMMARY_KEYS}

    def predictor(self, project: ProjectSpec, artifact: Path | None) -> Predictor:
        return local_predictor(project, artifact)

    def describe(self, summary: dict[str, Any]) -> str:
        s = summary
        early = f", stopped early at best step {s['best_step']}" if s.get("stopped_early") else ""
        resumed = f", resumed from step {s['resumed_from'][-1]}" if s.get("resumed_from") else ""
        return (f"mcptrain: trained {s['steps']} steps in {s['train_seconds']:.0f}s "
                f"({s['tokens_per_s']:.0f} tokens/s, {s.get('precision')}){early}{resumed}; "
                f"train loss {_f(s['train_loss_final'])}, validation loss {_f(s['val_loss_final'])}")


def _f(x: float | None) -> str:
    return "-" if x is None else f"{x:.4f}"
