"""The stages after `build`: train, evaluate, gate — each keyed by the hash of its inputs.

Every stage records what it consumed and produced in `.mcptrain/stages/<stage>.json`.
A stage whose recorded inputs equal the current ones, and whose outputs are still on
disk, is up to date and is not run again; that is what makes `mcptrain reconcile`
idempotent and lets a run that died part-way continue from the last finished stage
(training itself also resumes from its last checkpoint).

Artifacts live under `.mcptrain/artifacts/<backend>-<inputs hash>/`, so two different
configurations never share a folder and the same configuration always finds its own.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mcptrain.errors import StageError
from mcptrain.files import write_json
from mcptrain.specs import GatePolicySpec, ProjectSpec
from mcptrain.splits import EVAL_SPLITS
from mcptrain.trainer.batches import PLAN_VERSION

STATE_DIR = ".mcptrain"
DATASET_DIR = "datasets"
STAGE_FORMAT = 1


def inputs_hash(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()


# --- stage records -------------------------------------------------------------------


def record_path(root: Path, stage: str) -> Path:
    return root / STATE_DIR / "stages" / f"{stage}.json"


def read_record(root: Path, stage: str) -> dict[str, Any] | None:
    try:
        data = json.loads(record_path(root, stage).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("format") == STAGE_FORMAT else None


def write_record(root: Path, stage: str, inputs: str, outputs: dict[str, Any]) -> dict[str, Any]:
    record = {"format": STAGE_FORMAT, "stage": stage, "inputs": inputs, "outputs": outputs,
              "finished_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
    write_json(record_path(root, stage), record)
    return record


def up_to_date(root: Path, stage: str, inputs: str, *paths: str) -> dict[str, Any] | None:
    """The stage's record when it ran on exactly `inputs` and its output paths still exist."""
    record = read_record(root, stage)
    if record is None or record.get("inputs") != inputs:
        return None
    outputs = record.get("outputs") or {}
    if not all(outputs.get(p) and (root / outputs[p]).exists() for p in paths):
        return None
    return record


def _rel(root: Path, path: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path.resolve())


# --- the dataset ---------------------------------------------------------------------


@dataclass(frozen=True)
class Dataset:
    root: Path
    manifest: dict[str, Any]

    @property
    def content_hash(self) -> str:
        return str(self.manifest["content_hash"])

    def path(self, split: str, form: str = "") -> Path:
        return self.root / DATASET_DIR / form / f"{split}.jsonl"

    def rows(self, split: str) -> list[dict[str, Any]]:
        path = self.path(split)
        rows = []
        with path.open(encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                try:
                    rows.append(json.loads(line))
                except ValueError as e:
                    raise StageError(f"{path}:{lineno}: not a JSON line ({e}); rebuild with `mcptrain build`") from None
        return rows


def open_dataset(root: Path) -> Dataset:
    path = root / DATASET_DIR / "manifest.json"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StageError(f"{path} does not exist: the dataset has not been built"
                         "\n    hint: run `mcptrain build` (or `mcptrain data pull`) first") from None
    except (OSError, ValueError) as e:
        raise StageError(f"{path}: cannot be read ({e})\n    hint: run `mcptrain build` again") from None
    if not isinstance(manifest, dict) or "content_hash" not in manifest:
        raise StageError(f"{path}: not an mcptrain manifest\n    hint: run `mcptrain build` again")
    return Dataset(root, manifest)


# --- train ---------------------------------------------------------------------------


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
                                "data": dataset.content_hash, "system_prompt": project.system_prompt}
    if project.backend == "lora":
        settings["training"] = project.training.model_dump(mode="json")
        settings["batch_plan"] = PLAN_VERSION  # which rows each step sees
    elif project.backend == "openai":
        settings["openai"] = project.openai.model_dump(mode="json", exclude={"base_url"})
    return inputs_hash(settings)


def artifact_dir(root: Path, project: ProjectSpec, inputs: str) -> Path:
    return root / STATE_DIR / "artifacts" / f"{project.backend}-{inputs[:12]}"


def train_stage(root: Path, project: ProjectSpec, *, out: Path | None = None, run_name: str | None = None,
                runner: str = "ray", on_progress: Callable[[Any], None] | None = None,
                force: bool = False) -> TrainOutcome:
    """Train with the project's backend on the built dataset (see the module docstring)."""
    dataset = open_dataset(root)
    inputs = train_inputs(project, dataset)
    target = Path(out) if out is not None else artifact_dir(root, project, inputs)
    record = up_to_date(root, "train", inputs, "artifact")
    if record is not None and not force and (out is None or (root / record["outputs"]["artifact"]).resolve() == target.resolve()):
        return TrainOutcome(root / record["outputs"]["artifact"], project.backend, inputs,
                            record["outputs"].get("summary", {}), reused=True)
    name = run_name or f"{project.name}-{inputs[:12]}"
    summary: dict[str, Any]
    if project.backend == "lora":
        from mcptrain.trainer.lora import train_lora

        result = train_lora(project, dataset.rows("train"), dataset.rows("validation"), target, name,
                            on_progress=on_progress, runner="inline" if runner == "inline" else "ray")
        summary = {k: result.summary.get(k) for k in (
            "steps", "train_loss_final", "val_loss_final", "tokens_per_s", "train_seconds",
            "wall_seconds", "stopped_early", "best_step", "resumed_from", "precision")}
    elif project.backend == "openai":
        from mcptrain.trainer.openai_backend import train_openai

        validation = dataset.path("validation", "openai")
        job = train_openai(project, dataset.path("train", "openai"), target, inputs[:8],
                           validation_jsonl=validation if validation.stat().st_size else None,
                           on_progress=on_progress)
        summary = {"job_id": job.job_id, "fine_tuned_model": job.fine_tuned_model, "status": job.status}
    else:
        from mcptrain.trainer.prompt_backend import build_prompt

        artifact = build_prompt(project, dataset.rows("train"), target, failed=_failed_rows(root, dataset))
        summary = {"version": artifact.version, "examples": sum(len(v) for v in artifact.data["examples"].values())}
    write_record(root, "train", inputs, {"artifact": _rel(root, target), "backend": project.backend,
                                         "run_name": name, "data": dataset.content_hash, "summary": summary})
    return TrainOutcome(target, project.backend, inputs, summary, reused=False)


def _failed_rows(root: Path, dataset: Dataset) -> list[dict[str, Any]]:
    """The scored rows the last evaluation got wrong (the prompt backend shows the training
    rows closest to them)."""
    record = read_record(root, "eval")
    if record is None:
        return []
    try:
        report = json.loads((root / record["outputs"]["report"]).read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError):
        return []
    wrong = {i["row_id"] for i in report.get("items", []) if not i["candidate"]["correct"]}
    return [r for r in select_rows(dataset, EVAL_SPLITS) if r["id"] in wrong]


def latest_artifact(root: Path) -> Path | None:
    record = read_record(root, "train")
    if record is None:
        return None
    path = root / record["outputs"]["artifact"]
    return path if path.exists() else None


# --- evaluate ------------------------------------------------------------------------


@dataclass(frozen=True)
class EvalOutcome:
    out_dir: Path
    summary: dict[str, Any]  # the candidate's
    baseline: dict[str, Any] | None
    items: int
    seconds: dict[str, float]
    reused: bool


def select_rows(dataset: Dataset, splits: Sequence[str], limit: int | None = None) -> list[dict[str, Any]]:
    """Rows of `splits`; with `limit`, an even sample of at most `limit` rows per split."""
    rows: list[dict[str, Any]] = []
    for split in splits:
        part = dataset.rows(split)
        if limit is not None and len(part) > limit:
            step = len(part) / limit
            part = [part[int(i * step)] for i in range(limit)]
        rows += part
    return rows


def predict_items(predictor: Any, rows: Sequence[dict[str, Any]], description: str = "generating",
                  chunk: int = 64, cache: OutputCache | None = None) -> dict[str, str]:
    """The predictor's raw output for every scored item of `rows` (by item id).

    Items go to the predictor in chunks (a progress bar advances per chunk), ordered by
    service so the rows of a chunk share their system turn and its cached prefix. With a
    `cache`, items whose exact prompt it holds are not generated again.
    """
    from mcptrain import output
    from mcptrain.report import eval_items

    items = sorted(eval_items(rows), key=lambda i: str(i.row.get("service", "")))
    outputs: dict[str, str] = {}
    if cache is not None:
        for item in items:
            hit = cache.get(item)
            if hit is not None:
                outputs[item.id] = hit
        items = [i for i in items if i.id not in outputs]
    if cache is not None and outputs:
        output.info(f"mcptrain: {len(outputs)} {description} outputs reused from {cache.path.name}, "
                    f"{len(items)} to generate")
    with output.progress(description, len(items)) as advance:
        for start in range(0, len(items), chunk):
            part = items[start : start + chunk]
            texts = predictor.predict([{**item.row, "messages": item.prompt} for item in part])
            outputs.update((item.id, text) for item, text in zip(part, texts, strict=True))
            if cache is not None:
                cache.put(zip(part, texts, strict=True))
            advance(len(part))
    return outputs


class OutputCache:
    """A model's outputs by prompt content, kept across evaluations (the base model's, so a
    retrained candidate does not pay for the baseline again). One JSON line per prompt:
    `{"key": sha256 of the prompt and tools, "output": ...}`, rewritten atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: dict[str, str] = {}
        try:
            for line in path.read_text(encoding="utf-8").splitlines():
                entry = json.loads(line)
                self.entries[str(entry["key"])] = str(entry["output"])
        except (OSError, ValueError, KeyError, TypeError):
            self.entries = {}  # absent or damaged: a cache, so start over

    @staticmethod
    def key(item: Any) -> str:
        blob = json.dumps({"messages": item.prompt, "tools": item.row.get("tools")}, sort_keys=True,
                          ensure_ascii=False)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def get(self, item: Any) -> str | None:
        return self.entries.get(self.key(item))

    def put(self, pairs: Any) -> None:
        from mcptrain.files import replace_file

        for item, text in pairs:
            self.entries[self.key(item)] = text
        self.path.parent.mkdir(parents=True, exist_ok=True)
        replace_file(self.path, "".join(json.dumps({"key": k, "output": v}, ensure_ascii=False) + "\n"
                                        for k, v in sorted(self.entries.items())))


def baseline_cache(root: Path, project: ProjectSpec) -> OutputCache:
    """Where the base model's outputs are kept: keyed by everything that shapes them."""
    key = inputs_hash({"base_model": project.base_model, "backend": project.backend,
                       "openai": project.openai.model_dump(mode="json") if project.backend == "openai" else None,
                       "evaluation": project.evaluation.model_dump(mode="json"),
                       "precision": project.training.precision})
    return OutputCache(root / ".mcptrain" / "cache" / "baseline" / f"{key[:16]}.jsonl")


def eval_inputs(dataset: Dataset, artifact_inputs: str | None, splits: Sequence[str], baseline: bool,
                limit: int | None, project: ProjectSpec) -> str:
    return inputs_hash({"data": dataset.content_hash, "artifact": artifact_inputs, "splits": list(splits),
                        "baseline": baseline, "limit": limit, "base_model": project.base_model,
                        "evaluation": project.evaluation.model_dump(mode="json")})


def eval_stage(root: Path, project: ProjectSpec, artifact: Path | None, *, artifact_inputs: str | None,
               out_dir: Path, splits: Sequence[str] = EVAL_SPLITS, baseline: bool = True,
               limit: int | None = None, chart: bool = True, force: bool = False,
               make_predictor: Callable[[ProjectSpec, Path | None], Any] | None = None,
               candidate: Callable[[], Any] | None = None, candidate_label: str | None = None,
               notify: Callable[[str], None] | None = None) -> EvalOutcome:
    """Run the candidate (and the base model) over `splits`, score, write the report.

    The candidate is `make_predictor(project, artifact)`, or `candidate()` when given (an
    OpenAI-compatible endpoint, say); the baseline is `make_predictor(project, None)`: the base
    model the backend starts from.
    """
    import time

    from mcptrain.report import score_rows, write_report

    say = notify or (lambda m: None)
    dataset = open_dataset(root)
    inputs = eval_inputs(dataset, artifact_inputs, splits, baseline, limit, project)
    record = up_to_date(root, "eval", inputs, "report")
    if (record is not None and not force and artifact_inputs is not None
            and (root / record["outputs"]["report"]).resolve() == (out_dir / "report.json").resolve()):
        data = json.loads((root / record["outputs"]["report"]).read_text(encoding="utf-8"))
        return EvalOutcome(out_dir, data["candidate"], data.get("baseline"), len(data["items"]),
                           record["outputs"].get("seconds", {}), reused=True)
    if make_predictor is None:
        from mcptrain.trainer.predictor import make_predictor as default

        make_predictor = default
    rows = select_rows(dataset, splits, limit)
    if not rows:
        raise StageError(f"eval: the splits {', '.join(splits)} hold no rows")
    seconds: dict[str, float] = {}
    base_results = None
    if baseline:
        say(f"generating with the base model ({project.base_model})")
        started = time.perf_counter()
        cache = None if force else baseline_cache(root, project)
        base_outputs = predict_items(_Lazy(lambda: make_predictor(project, None)), rows, "base model",
                                     cache=cache)
        seconds["baseline"] = round(time.perf_counter() - started, 2)
        base_results = score_rows(rows, base_outputs)
    label = candidate_label or (_rel(root, artifact) if artifact else "the base model")
    say(f"generating with the candidate ({label})")
    started = time.perf_counter()
    outputs = predict_items(candidate() if candidate else make_predictor(project, artifact), rows, "candidate")
    seconds["candidate"] = round(time.perf_counter() - started, 2)
    results = score_rows(rows, outputs)
    written = write_report(out_dir, results, base_results, chart=chart)
    _write_outputs(out_dir / "predictions.jsonl", outputs)
    if base_results is not None:
        _write_outputs(out_dir / "baseline_predictions.jsonl", base_outputs)
    data = json.loads(written.json.read_text(encoding="utf-8"))
    if artifact_inputs is not None:
        write_record(root, "eval", inputs, {"report": _rel(root, written.json), "seconds": seconds,
                                            "artifact": _rel(root, artifact) if artifact else None})
    return EvalOutcome(out_dir, data["candidate"], data.get("baseline"), len(results), seconds, reused=False)


class _Lazy:
    """A predictor built on first use: a fully cached baseline never loads its model."""

    def __init__(self, build: Callable[[], Any]) -> None:
        self.build = build
        self.predictor: Any = None

    def predict(self, rows: Any) -> Any:
        if self.predictor is None:
            self.predictor = self.build()
        return self.predictor.predict(rows)


def _write_outputs(path: Path, outputs: dict[str, str]) -> None:
    """The raw outputs, in the format `mcptrain eval --predictions` reads back."""
    from mcptrain.files import replace_file

    replace_file(path, "".join(json.dumps({"id": k, "output": v}, ensure_ascii=False) + "\n"
                               for k, v in outputs.items()))


# --- gates ---------------------------------------------------------------------------


@dataclass(frozen=True)
class GateCheck:
    policy: str
    check: str
    required: float
    actual: float | None
    passed: bool
    detail: str = ""


@dataclass(frozen=True)
class GateVerdict:
    decision: str  # full | partial | blocked
    checks: list[GateCheck]
    deployable_services: list[str]
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"decision": self.decision, "reason": self.reason,
                "deployable_services": self.deployable_services,
                "checks": [c.__dict__ for c in self.checks]}


def apply_gates(policies: Sequence[GatePolicySpec], summary: dict[str, Any],
                production: dict[str, Any] | None = None) -> GateVerdict:
    """Judge a candidate's evaluation summary by every gate policy.

    `production` is the summary of the model in production, for `max_regression`; with
    none (no model promoted yet) regression checks are skipped and the verdict says so.
    Decisions: full (every check passes); partial (some services fail, and every
    critical service and the services shipped meet `partial_deploy.min_accuracy`);
    blocked (nothing ships).
    """
    checks: list[GateCheck] = []
    by = summary["by"]
    for p in policies:
        checks.append(_check(p.name, "overall accuracy", p.min_overall_accuracy, summary["overall"]))
        for category, minimum in sorted(p.thresholds.items()):
            checks.append(_check(p.name, f"category {category}", minimum, by["category"].get(category)))
        for category in p.critical_categories:
            checks.append(_check(p.name, f"critical category {category}", p.critical_min_accuracy,
                                 by["category"].get(category)))
        for service in p.critical_services:
            checks.append(_check(p.name, f"critical service {service}", p.critical_min_accuracy,
                                 by["service"].get(service)))
        critical = by["priority"].get("critical")
        if critical is not None:
            checks.append(_check(p.name, "critical scenarios", p.critical_min_accuracy, critical))
        for s in summary.get("scenario_checks", []):
            checks.append(GateCheck(p.name, f"scenario {s['scenario']}", s["required"], s["accuracy"],
                                    s["passed"]))
        if production is not None:
            for category, now in by["category"].items():
                before = production["by"]["category"].get(category)
                if before is None or not now["n"]:
                    continue
                drop = before["accuracy"] - now["accuracy"]
                checks.append(GateCheck(p.name, f"regression {category}", p.max_regression, drop,
                                        drop <= p.max_regression + 1e-12,
                                        f"{before['accuracy']:.3f} -> {now['accuracy']:.3f}"))
    failed = [c for c in checks if not c.passed]
    services = sorted(by["service"])
    if not failed:
        return GateVerdict("full", checks, services, "every gate passes"
                           + ("" if production is not None else " (no production model: regression not checked)"))
    partial = [p.partial_deploy.min_accuracy for p in policies if p.partial_deploy is not None]
    if partial:
        bar = max(partial)
        critical = {s for p in policies for s in p.critical_services}
        good = [s for s in services if by["service"][s]["accuracy"] >= bar]
        if good and all(s in good for s in critical & set(services)):
            return GateVerdict("partial", checks, good, f"{len(failed)} checks fail; services at or above "
                               f"{bar:.0%} may ship alone: {', '.join(good)}")
    return GateVerdict("blocked", checks, [], f"{len(failed)} checks fail")


def _check(policy: str, name: str, required: float, score: dict[str, Any] | None) -> GateCheck:
    if score is None or not score.get("n"):
        return GateCheck(policy, name, required, None, False, "no evaluation items")
    accuracy = float(score["accuracy"])
    return GateCheck(policy, name, required, accuracy, accuracy >= required - 1e-12,
                     f"{score['correct']}/{score['n']}")
