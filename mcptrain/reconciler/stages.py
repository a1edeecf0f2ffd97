"""The stages after `build`: train, evaluate, gate — each keyed by the hash of its inputs.

Every stage records what it consumed and produced (`records`).
A stage whose recorded inputs equal the current ones, and whose outputs are still on
disk, is up to date and is not run again; that is what makes `mcptrain reconcile`
idempotent and lets a run that died part-way continue from the last finished stage
(training itself also resumes from its last checkpoint).

Artifacts live under `.mcptrain/artifacts/<backend>-<inputs hash>/`, so two different
configurations never share a folder and the same configuration always finds its own.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mcptrain.dataset.handle import Dataset, open_dataset, select_rows
from mcptrain.dataset.splits import GATED_SPLITS, HOLDOUT
from mcptrain.errors import ConfigError, StageError
from mcptrain.evaluation.runner import LazyPredictor, OutputCache, predict_items, write_outputs
from mcptrain.reconciler.records import (
    inputs_hash,
    read_record,
    up_to_date,
    write_record,
)
from mcptrain.specs.models import ProjectSpec
from mcptrain.training.backends import TrainJob, get_backend
from mcptrain.training.backends import make_predictor as default_predictor
from mcptrain.training.decision import stale_decision
from mcptrain.training.grammar import GRAMMAR_DIR, export_grammars
from mcptrain.training.prompt import PROMPT_REVISION
from mcptrain.workspace import Workspace


@dataclass(frozen=True)
class TrainOutcome:
    artifact: Path
    backend: str
    inputs: str
    summary: dict[str, Any]
    reused: bool  # up to date: nothing ran


def train_inputs(project: ProjectSpec, dataset: Dataset) -> str:
    """Everything a training result depends on."""
    settings: dict[str, Any] = {"backend": project.backend, "base_model": project.base_model,
                                "data": dataset.training_hash, "system_prompt": project.system_prompt}
    settings.update(get_backend(project.backend).fingerprint(project))
    return inputs_hash(settings)


def artifact_dir(ws: Workspace, project: ProjectSpec, inputs: str) -> Path:
    return ws.artifacts_dir / f"{project.backend}-{inputs[:12]}"


def train_stage(ws: Workspace, project: ProjectSpec, *, out: Path | None = None, run_name: str | None = None,
                runner: str = "ray", on_progress: Callable[[Any], None] | None = None,
                force: bool = False, confirm: Callable[[dict[str, Any]], bool] | None = None) -> TrainOutcome:
    """Train with the project's backend on the built dataset (see the module docstring).

    A cloud backend refuses services that keep their data in the organisation
    (`refuse_cloud`); a paid job starts only when `confirm(estimate)` says yes.
    """
    root = ws.root
    dataset = open_dataset(root)
    inputs = train_inputs(project, dataset)
    target = Path(out) if out is not None else artifact_dir(ws, project, inputs)
    record = up_to_date(ws, "train", inputs, "artifact")
    recorded = root / record["outputs"]["artifact"] if record is not None else None
    # An adapter whose decision was calibrated on an older prompt encoding goes back to the
    # backend, which calibrates it again without training (training/lora.py).
    if (record is not None and recorded is not None and not force and not stale_decision(recorded)
            and (out is None or recorded.resolve() == target.resolve())):
        return TrainOutcome(recorded, project.backend, inputs, record["outputs"].get("summary", {}), reused=True)
    refuse_cloud(ws, project)
    estimate = get_backend(project.backend).estimate(project, dataset)
    if estimate is not None and (confirm is None or not confirm(estimate)):
        raise ConfigError(f"train: backend {project.backend!r} starts a paid job ({estimate['description']}); "
                          "not confirmed, nothing was uploaded", hint="pass --yes to accept the estimate")
    name = run_name or f"{project.name}-{inputs[:12]}"
    summary = get_backend(project.backend).train(TrainJob(
        project, dataset, target, name, inputs, runner=runner, on_progress=on_progress,
        failed_rows=lambda: _failed_rows(ws, dataset)))
    # What serving must enforce to decode as evaluation does (README, "Serving"): every tool,
    # the zero-shot ones the rows trained on do not offer included (the holdout is never read
    # here; its rows offer what the test split's do).
    offered = [row for split in ("train", *GATED_SPLITS) for row in dataset.rows(split)]
    summary = {**summary, "grammars": export_grammars(target / GRAMMAR_DIR, offered)}
    write_record(ws, "train", inputs, {"artifact": ws.relative(target), "backend": project.backend,
                                         "run_name": name, "data": dataset.training_hash, "summary": summary})
    return TrainOutcome(target, project.backend, inputs, summary, reused=False)


def refuse_cloud(ws: Workspace, project: ProjectSpec) -> None:
    """A cloud backend's data leaves the organisation: refuse when a service forbids it
    (`training: {allow_cloud: false}` in its service.yaml, the chapter's consent restrictions)."""
    if not get_backend(project.backend).cloud:
        return
    specs, _ = ws.load_specs()
    kept = sorted(n for n, b in specs.services.items() if b.service and not b.service.spec.training.allow_cloud)
    if kept:
        raise ConfigError(f"backend {project.backend!r} sends the data to a cloud service, and "
                          f"{', '.join(kept)} {'keeps its' if len(kept) == 1 else 'keep their'} data in the "
                          "organisation (training.allow_cloud: false)",
                          hint="use a local backend (lora or prompt), or ask the service owners")


def _failed_rows(ws: Workspace, dataset: Dataset) -> list[dict[str, Any]]:
    """The validation rows the last evaluation got wrong (the prompt backend shows the
    training rows closest to them).

    Validation only: a scored item (test, holdout, zero-shot, orchestration, scenarios) that
    shaped the prompt would then be graded on an answer it helped write. Neither its id nor
    its outcome is read here, so nothing about it can reach a prompt.
    """
    record = read_record(ws, "eval")
    if record is None:
        return []
    try:
        report = json.loads((ws.root / record["outputs"]["report"]).read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError):
        return []
    wrong = {i["row_id"] for i in report.get("diagnostic_items", [])
             if i.get("split") == "validation" and not i["candidate"]["correct"]}
    return [r for r in dataset.rows("validation") if r["id"] in wrong]


def latest_artifact(ws: Workspace) -> Path | None:
    record = read_record(ws, "train")
    if record is None:
        return None
    path = ws.root / record["outputs"]["artifact"]
    return path if path.exists() else None


@dataclass(frozen=True)
class EvalOutcome:
    out_dir: Path
    summary: dict[str, Any]  # the candidate's
    baseline: dict[str, Any] | None
    items: int
    seconds: dict[str, float]
    reused: bool
    raw: dict[str, Any] | None = None  # the candidate's summary without the grammar
    diagnostics: dict[str, Any] | None = None  # by split: validation, train (seen phrasings); not gated
    gain: dict[str, Any] | None = None  # the gain over the base model with its interval (report.json's)


def baseline_cache(ws: Workspace, project: ProjectSpec) -> OutputCache:
    """Where the base model's outputs are kept: keyed by everything that shapes them."""
    key = inputs_hash({"base_model": project.base_model, "backend": project.backend,
                       "openai": get_backend(project.backend).baseline_settings(project),
                       "evaluation": project.evaluation.model_dump(mode="json", exclude={"report_raw"}),
                       "precision": project.training.precision, **prompt_encoding(project)})
    return OutputCache(ws.cache_dir("baseline") / f"{key[:16]}.jsonl")


def eval_inputs(dataset: Dataset, artifact_inputs: str | None, splits: Sequence[str], baseline: bool,
                limit: int | None, project: ProjectSpec, diagnostics: bool = False) -> str:
    return inputs_hash({"data": dataset.content_hash, "artifact": artifact_inputs, "splits": list(splits),
                        "baseline": baseline, "limit": limit, "base_model": project.base_model,
                        "evaluation": project.evaluation.model_dump(mode="json"),
                        "diagnostics": diagnostics and project.evaluation.diagnostics, **prompt_encoding(project)})


def prompt_encoding(project: ProjectSpec) -> dict[str, Any]:
    """How the backend's models are asked, for the keys of what they output: the revision of
    how prompts are tokenised when they run here (`baseline_settings` None); an endpoint takes
    the messages, so its outputs do not change with it."""
    return {"prompt": PROMPT_REVISION} if get_backend(project.backend).baseline_settings(project) is None else {}


def diagnostic_rows(dataset: Dataset, project: ProjectSpec, limit: int | None) -> list[dict[str, Any]]:
    """The validation split and an even sample of `evaluation.seen_sample` training rows:
    scored for diagnosis, reported apart, never gated."""
    if not project.evaluation.diagnostics:
        return []
    seen = project.evaluation.seen_sample
    return select_rows(dataset, ["validation"], limit) + (select_rows(dataset, ["train"], seen) if seen else [])


def eval_stage(ws: Workspace, project: ProjectSpec, artifact: Path | None, *, artifact_inputs: str | None,
               out_dir: Path, splits: Sequence[str] = GATED_SPLITS, baseline: bool = True,
               limit: int | None = None, chart: bool = True, force: bool = False,
               make_predictor: Callable[[ProjectSpec, Path | None], Any] | None = None,
               candidate: Callable[[], Any] | None = None, candidate_label: str | None = None,
               notify: Callable[[str], None] | None = None, diagnostics: bool = False) -> EvalOutcome:
    """Run the candidate (and the base model) over `splits`, score, write the report.

    The candidate is `make_predictor(project, artifact)`, or `candidate()` when given (an
    OpenAI-compatible endpoint, say); the baseline is `make_predictor(project, None)`: the base
    model the backend starts from. With `diagnostics`, the candidate also answers the
    `diagnostic_rows`, reported apart (`diagnostics`, `diagnostic_items`) and never gated.
    The holdout is scored only when `splits` is exactly the holdout (`eval --holdout`).
    """
    import time

    from mcptrain.evaluation.report import score_rows, write_report

    say = notify or (lambda m: None)
    root = ws.root
    dataset = open_dataset(root)
    if HOLDOUT in splits and list(splits) != [HOLDOUT]:
        raise StageError("eval: the holdout is scored alone (mcptrain eval --holdout), never with the "
                         "gated splits")
    inputs = eval_inputs(dataset, artifact_inputs, splits, baseline, limit, project, diagnostics)
    stage = "holdout" if list(splits) == [HOLDOUT] else "eval"  # a holdout review never replaces the eval
    record = up_to_date(ws, stage, inputs, "report")
    if (record is not None and not force and artifact_inputs is not None
            and (root / record["outputs"]["report"]).resolve() == (out_dir / "report.json").resolve()):
        data = json.loads((root / record["outputs"]["report"]).read_text(encoding="utf-8"))
        return EvalOutcome(out_dir, data["candidate"], data.get("baseline"), len(data["items"]),
                           record["outputs"].get("seconds", {}), reused=True, raw=data.get("candidate_raw"),
                           diagnostics=data.get("diagnostics"), gain=data.get("gain"))
    if candidate is None:
        refuse_cloud(ws, project)  # evaluating through the cloud sends the scored queries there too
    if make_predictor is None:
        make_predictor = default_predictor
    rows = select_rows(dataset, splits, limit)
    if not rows:
        raise StageError(f"eval: the splits {', '.join(splits)} hold no rows")
    extra = diagnostic_rows(dataset, project, limit) if diagnostics else []
    seconds: dict[str, float] = {}
    base_results = None
    if baseline:
        say(f"generating with the base model ({project.base_model})")
        started = time.perf_counter()
        cache = None if force else baseline_cache(ws, project)
        base_outputs = predict_items(LazyPredictor(lambda: make_predictor(project, None)), rows, "base model",
                                     cache=cache)
        seconds["baseline"] = round(time.perf_counter() - started, 2)
        base_results = score_rows(rows, base_outputs)
    label = candidate_label or (ws.relative(artifact) if artifact else "the base model")
    say(f"generating with the candidate ({label})")
    started = time.perf_counter()
    predictor = candidate() if candidate else make_predictor(project, artifact)
    outputs = predict_items(predictor, rows, "candidate")
    seconds["candidate"] = round(time.perf_counter() - started, 2)
    results = score_rows(rows, outputs)
    diagnosed = None
    if extra:
        say(f"generating with the candidate: {len(extra)} diagnostic rows (validation, seen phrasings)")
        started = time.perf_counter()
        diagnostic_outputs = predict_items(predictor, extra, "diagnostics")
        diagnosed = score_rows(extra, diagnostic_outputs)
        seconds["diagnostics"] = round(time.perf_counter() - started, 2)
        # Not gated, so safe to read: the split a recipe or a decoder setting is chosen on.
        write_outputs(out_dir / "diagnostic_predictions.jsonl", diagnostic_outputs)
    raw_results = None
    if candidate is None and project.evaluation.report_raw and getattr(predictor, "constrained", False):
        # The same candidate without the grammar: what the adapter itself writes.
        say("generating with the candidate, unconstrained")
        del predictor
        started = time.perf_counter()
        raw = project.model_copy(update={"evaluation": project.evaluation.model_copy(update={"constrained": False})})
        raw_outputs = predict_items(make_predictor(raw, artifact), rows, "candidate, unconstrained")
        seconds["candidate_raw"] = round(time.perf_counter() - started, 2)
        raw_results = score_rows(rows, raw_outputs)
        write_outputs(out_dir / "predictions_unconstrained.jsonl", raw_outputs)
    written = write_report(out_dir, results, base_results, chart=chart, raw=raw_results, diagnostics=diagnosed)
    write_outputs(out_dir / "predictions.jsonl", outputs)
    if base_results is not None:
        write_outputs(out_dir / "baseline_predictions.jsonl", base_outputs)
    data = json.loads(written.json.read_text(encoding="utf-8"))
    if artifact_inputs is not None:
        write_record(ws, stage, inputs, {"report": ws.relative(written.json), "seconds": seconds,
                                            "artifact": ws.relative(artifact) if artifact else None})
    return EvalOutcome(out_dir, data["candidate"], data.get("baseline"), len(results), seconds, reused=False,
                       raw=data.get("candidate_raw"), diagnostics=data.get("diagnostics"), gain=data.get("gain"))
