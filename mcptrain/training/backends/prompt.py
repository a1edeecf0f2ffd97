"""Backend `prompt`: no training, a versioned system prompt with few-shot examples.

Per service, examples are chosen so that every tool is shown once (gold before silver
before bronze, single-turn before multi-step, then by id: deterministic), then, for each
validation item the last evaluation got wrong, the training row closest to it: same
service, same target tools (or, for a call-less item, the same expected action), the most
similar query (rapidfuzz ratio), up to a cap. Validation only: a scored item (test,
holdout, zero-shot, orchestration, scenarios) that chose a few-shot example would be graded
on an answer it helped write, so `build_prompt` drops any failed row of another split
before it looks at its text. The system
prompt is rendered by a sandboxed jinja2 template and written to `prompt.json` with the
hash of its content; `PromptPredictor` puts it in front of any model for evaluation.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from mcptrain.dataset.handle import Dataset
from mcptrain.errors import ConfigError
from mcptrain.files import write_json
from mcptrain.fingerprint import sha256_json
from mcptrain.specs.models import ProjectSpec
from mcptrain.training.predictor import Predictor, PromptPredictor, hermes_calls, local_predictor

if TYPE_CHECKING:
    from mcptrain.training.backends import TrainJob

PROMPT_FILE = "prompt.json"
MAX_PROMPT_CHARS = 100_000
DEFAULT_TEMPLATE = """\
{{ system_prompt }}
{% if examples %}

Examples of correct replies:
{% for ex in examples %}
User: {{ ex.query }}
Assistant: {{ ex.answer }}
{% endfor %}
{% endif %}"""
_QUALITY = {"gold": 0, "silver": 1, "bronze": 2}
_ENV = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False,
                                     trim_blocks=True, keep_trailing_newline=False)
_ENV.globals.pop("range", None)  # no huge strings from range()
_ENV.globals.pop("lipsum", None)


@dataclass(frozen=True)
class PromptArtifact:
    path: Path
    version: str
    data: dict[str, Any]


def example_of(row: dict[str, Any]) -> dict[str, str]:
    """The row's first user message and first assistant reply, as the prompt shows them."""
    query = next(m["content"] for m in row["messages"] if m["role"] == "user")
    reply = next(m for m in row["messages"] if m["role"] == "assistant")
    calls = [(c["function"]["name"], c["function"]["arguments"]) for c in reply.get("tool_calls") or []]
    parts = [reply.get("content") or "", hermes_calls(calls)]
    return {"id": row["id"], "query": query, "answer": "\n".join(p for p in parts if p)}


def select_examples(rows: Sequence[dict[str, Any]], tools: Iterable[str],
                    failed: Sequence[dict[str, Any]], limit: int) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The few-shot rows, and which failed item (id) each closest-match row was added for."""
    from rapidfuzz import fuzz

    def rank(r: dict[str, Any]) -> tuple[int, int, str]:
        return (_QUALITY.get(r.get("quality", "gold"), 3), r.get("category") == "multi_turn", r["id"])

    ordered = sorted(rows, key=rank)
    chosen: list[dict[str, Any]] = []
    for tool in tools:
        pick = next((r for r in ordered if tool in r.get("target_tools", []) and r not in chosen), None)
        if pick is not None:
            chosen.append(pick)
    from mcptrain.dataset.contamination import (
        query_of,  # the validator behind it is not needed to plan
    )

    addressed: dict[str, str] = {}
    for item in failed:
        if len(chosen) >= limit:
            break
        query = query_of(item).lower()
        like = [r for r in ordered if r not in chosen and _same_kind(r, item)]
        if not like:
            continue
        best = max(like, key=lambda r: fuzz.ratio(query, query_of(r).lower()))  # ties: the first in order
        chosen.append(best)
        addressed[item["id"]] = best["id"]
    return chosen[:limit], addressed


def _same_kind(row: dict[str, Any], item: dict[str, Any]) -> bool:
    if item.get("target_tools") and set(row.get("target_tools", [])) & set(item["target_tools"]):
        return True
    action = item.get("expected_action")
    return not item.get("target_tools") and action is not None and row.get("expected_action") == action


def render_system_prompt(template: str, system_prompt: str, examples: list[dict[str, str]],
                         service: str) -> str:
    try:
        text = _ENV.from_string(template).render(system_prompt=system_prompt, examples=examples,
                                                 service=service)
    except TemplateError as e:
        raise ConfigError(f"prompt template: {e}") from None
    if len(text) > MAX_PROMPT_CHARS:
        raise ConfigError(f"prompt template: the rendered prompt has {len(text)} characters "
                          f"(the limit is {MAX_PROMPT_CHARS})")
    return text.strip()


def build_prompt(project: ProjectSpec, rows_train: Sequence[dict[str, Any]], out_dir: Path, *,
                 failed: Sequence[dict[str, Any]] = (), template: str = DEFAULT_TEMPLATE,
                 max_examples_per_service: int = 12) -> PromptArtifact:
    failed = [f for f in failed if f.get("split") == "validation"]  # never a scored item
    by_service: dict[str, list[dict[str, Any]]] = {}
    for row in rows_train:
        by_service.setdefault(row["service"], []).append(row)
    prompts: dict[str, str] = {}
    picked: dict[str, list[str]] = {}
    addressed: dict[str, str] = {}
    for service in sorted(by_service):
        rows = by_service[service]
        tool_names = list(dict.fromkeys(t["function"]["name"] for r in rows for t in r.get("tools") or []))
        mine = sorted((f for f in failed if f.get("service") == service), key=lambda f: str(f["id"]))
        chosen, added = select_examples(rows, tool_names, mine, max_examples_per_service)
        addressed.update(added)
        examples = [example_of(r) for r in chosen]
        # The rows' own system turn: the project's prompt, plus the service's domain knowledge
        # when `prompt.domain_knowledge` is on (the compiler wrote it, as for every backend).
        first = rows[0]["messages"][0]
        system = first["content"] if first.get("role") == "system" else project.system_prompt
        prompts[service] = render_system_prompt(template, system, examples, service)
        picked[service] = [e["id"] for e in examples]
    content = {"default_system_prompt": project.system_prompt, "system_prompts": prompts}
    digest = sha256_json(content)
    data = {
        "format": 1, "backend": "prompt", "name": project.name, "base_model": project.base_model,
        **content, "sha256": digest, "version": digest[:12], "examples": picked,
        "failures_addressed": dict(sorted(addressed.items())),  # failed item -> training row shown
        "failures_unaddressed": sorted(str(f["id"]) for f in failed if f["id"] not in addressed),
        "template_sha256": hashlib.sha256(template.encode()).hexdigest(),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / PROMPT_FILE
    write_json(path, data)
    return PromptArtifact(path, digest[:12], data)


class PromptBackend:
    """The `Backend` that trains nothing: the base model behind per-service few-shot prompts."""

    name = "prompt"
    cloud = False

    def estimate(self, project: ProjectSpec, dataset: Dataset) -> dict[str, Any] | None:
        return None  # trains on this machine or cluster: nothing billed per token

    def fingerprint(self, project: ProjectSpec) -> dict[str, Any]:
        return {}

    def baseline_settings(self, project: ProjectSpec) -> dict[str, Any] | None:
        return None

    def progress_total(self, project: ProjectSpec) -> int:
        return 0

    def train(self, job: TrainJob) -> dict[str, Any]:
        artifact = build_prompt(job.project, job.dataset.rows("train"), job.target, failed=job.failed_rows())
        return {"version": artifact.version, "examples": sum(len(v) for v in artifact.data["examples"].values())}

    def predictor(self, project: ProjectSpec, artifact: Path | None) -> Predictor:
        if artifact is None:
            return local_predictor(project, None)
        return PromptPredictor(local_predictor(project, None), artifact / PROMPT_FILE)

    def describe(self, summary: dict[str, Any]) -> str:
        return f"mcptrain: prompt artifact {summary['version']} with {summary['examples']} few-shot examples"
