"""Backend `openai`: fine-tune on OpenAI (or any API-compatible service) and watch the job.

A paid job: before it starts, `estimate` says what it will bill (the training file's tokens,
estimated as the cookbook's checks count them, × epochs × `openai.price_per_million_tokens`)
and the stage asks for confirmation (`--yes`); the summary keeps the estimate beside the
job's real `trained_tokens`. A cloud backend: services with `training.allow_cloud: false`
make the stage refuse before anything is uploaded.

The job is recorded in `out_dir/openai_job.json` as soon as it exists (and the uploaded
file before that), so a re-run after a crash or a CI timeout resumes watching the same
job instead of paying for a second one. The key comes from OPENAI_API_KEY only and is
never written or shown: errors are re-raised without the request that carried it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mcptrain.dataset.handle import Dataset
from mcptrain.errors import ConfigError, StageError
from mcptrain.files import write_json
from mcptrain.fingerprint import canonical_json
from mcptrain.specs.models import ProjectSpec
from mcptrain.training.predictor import OpenAIPredictor, Predictor
from mcptrain.training.progress import OnProgress, ProgressEvent

if TYPE_CHECKING:
    from mcptrain.training.backends import TrainJob

JOB_FILE = "openai_job.json"
TERMINAL = {"succeeded", "failed", "cancelled"}


@dataclass(frozen=True)
class OpenAIJob:
    job_id: str
    status: str
    fine_tuned_model: str | None
    resumed: bool  # an earlier run had created the job
    trained_tokens: int | None = None  # what the job billed, as the API reports it


def estimate_job(project: ProjectSpec, train_jsonl: Path) -> dict[str, Any]:
    """Billed tokens and cost of fine-tuning on `train_jsonl`: tokens per epoch (estimated
    as `openai_checks` counts them), × `openai.n_epochs` (unknown when OpenAI picks: `auto`),
    × `openai.price_per_million_tokens` (unknown when the project names no price)."""
    from mcptrain.dataset.openai_checks import FormatChecker

    checker = FormatChecker()
    examples = 0
    with train_jsonl.open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                checker.check(json.loads(line))
                examples += 1
    per_epoch = checker.report.total_tokens
    epochs = project.openai.n_epochs
    billed = per_epoch * epochs if epochs else None
    price = project.openai.price_per_million_tokens
    return {"examples": examples, "tokens_per_epoch": per_epoch, "epochs": epochs or "auto",
            "billed_tokens": billed, "price_per_million_tokens": price,
            "cost": round(billed * price / 1e6, 2) if billed is not None and price is not None else None,
            "model": project.openai.model}


def describe_estimate(e: dict[str, Any]) -> str:
    """One line: `~1,234,000 billed tokens (617,000 x 2 epochs) x 8.00 per 1M = 9.87`."""
    tokens = f"{e['tokens_per_epoch']:,} tokens per epoch" if e["billed_tokens"] is None else \
        f"~{e['billed_tokens']:,} billed tokens ({e['tokens_per_epoch']:,} x {e['epochs']} epochs)"
    if e["billed_tokens"] is None:
        tokens += " x epochs OpenAI chooses (set openai.n_epochs for a full estimate)"
    if e["price_per_million_tokens"] is None:
        return f"{tokens}; no price: set openai.price_per_million_tokens in mcptrain.yaml"
    cost = "" if e["cost"] is None else f" = {e['cost']:,.2f}"
    return f"{tokens} at {e['price_per_million_tokens']:g} per 1M{cost} ({e['examples']} examples, {e['model']})"


def job_suffix(model_name: str, version: str) -> str:
    """`<model>-<version>` in the characters and length OpenAI accepts (64, [a-z0-9-])."""
    raw = f"{model_name}-{version}".lower()
    return re.sub(r"-{2,}", "-", re.sub(r"[^a-z0-9-]", "-", raw)).strip("-")[:64]


def make_client(project: ProjectSpec) -> Any:
    try:
        from openai import OpenAI
    except ImportError:
        raise ConfigError("backend 'openai' needs the openai package",
                          hint="pip install 'mcptrain[openai]'") from None
    key = os.environ.get("OPENAI_API_KEY")
    if not key:
        raise ConfigError("backend 'openai' needs OPENAI_API_KEY in the environment",
                          hint="export OPENAI_API_KEY=... (CI: a repository secret)")
    return OpenAI(api_key=key, base_url=project.openai.base_url, max_retries=3)


def train_openai(project: ProjectSpec, train_jsonl: Path, out_dir: Path, version: str, *,
                 validation_jsonl: Path | None = None, client: Any = None,
                 on_progress: OnProgress | None = None, max_wait_s: float = 6 * 3600,
                 poll_s: float = 5.0, max_poll_s: float = 60.0,
                 sleep: Callable[[float], None] = time.sleep) -> OpenAIJob:
    """Upload, create (once) and watch a fine-tuning job; returns it when it has finished."""
    emit = on_progress or (lambda e: None)
    client = client or make_client(project)
    out_dir.mkdir(parents=True, exist_ok=True)
    record_path = out_dir / JOB_FILE
    inputs = _inputs_sha256(project, train_jsonl, validation_jsonl, version)
    record = _read(record_path)
    if record.get("inputs_sha256") != inputs:
        record = {"inputs_sha256": inputs, "model": project.openai.model,
                  "suffix": job_suffix(project.name, version)}
    resumed = bool(record.get("job_id"))
    try:
        if not record.get("job_id"):
            if not record.get("training_file"):
                record["training_file"] = _upload(client, train_jsonl)
                if validation_jsonl is not None:
                    record["validation_file"] = _upload(client, validation_jsonl)
                write_json(record_path, record)
                emit(ProgressEvent("info", message=f"uploaded {train_jsonl.name} as {record['training_file']}"))
            job = _existing_job(client, record["training_file"])
            if job is None:
                hyper = {"n_epochs": project.openai.n_epochs} if project.openai.n_epochs else None
                job = client.fine_tuning.jobs.create(
                    training_file=record["training_file"], model=record["model"],
                    suffix=record["suffix"], validation_file=record.get("validation_file"),
                    **({"hyperparameters": hyper} if hyper else {}))
            record["job_id"] = job.id
            write_json(record_path, record)
            emit(ProgressEvent("info", message=f"fine-tuning job {job.id} created"))
        else:
            emit(ProgressEvent("resume", message=f"watching fine-tuning job {record['job_id']} again"))
        job = _watch(client, record, record_path, emit, max_wait_s, poll_s, max_poll_s, sleep)
    except (ConfigError, StageError):
        raise
    except Exception as e:  # openai.APIError and transport errors: message only, no request
        raise StageError(f"train: the OpenAI API failed: {type(e).__name__}: {_safe(e)}") from None
    if job.status != "succeeded":
        error = getattr(job, "error", None)
        detail = getattr(error, "message", None) or job.status
        raise StageError(f"train: fine-tuning job {job.id} {job.status}: {detail}")
    tokens = getattr(job, "trained_tokens", None)
    return OpenAIJob(job.id, job.status, job.fine_tuned_model, resumed, int(tokens) if tokens is not None else None)


def _watch(client: Any, record: dict[str, Any], path: Path, emit: OnProgress, max_wait_s: float,
           poll_s: float, max_poll_s: float, sleep: Callable[[float], None]) -> Any:
    waited, delay = 0.0, poll_s
    while True:
        job = client.fine_tuning.jobs.retrieve(record["job_id"])
        if job.status != record.get("status"):
            record["status"] = job.status
            record["fine_tuned_model"] = job.fine_tuned_model
            write_json(path, record)
            emit(ProgressEvent("info", message=f"fine-tuning job {job.id}: {job.status}"))
        if job.status in TERMINAL:
            return job
        if waited >= max_wait_s:
            raise StageError(f"train: fine-tuning job {job.id} is still {job.status} after "
                             f"{waited:.0f} s", hint="re-run the same command to keep watching it")
        sleep(delay)
        waited += delay
        delay = min(max_poll_s, delay * 1.5)


def _existing_job(client: Any, training_file: str) -> Any:
    """A job an interrupted earlier run created for this file but did not record."""
    # One page only: the file was uploaded moments before, so its job is among the newest.
    for job in client.fine_tuning.jobs.list(limit=50).data:
        if job.training_file == training_file:
            return job
    return None


def _upload(client: Any, path: Path) -> str:
    with path.open("rb") as f:
        return str(client.files.create(file=f, purpose="fine-tune").id)


def _inputs_sha256(project: ProjectSpec, train: Path, validation: Path | None, version: str) -> str:
    h = hashlib.sha256(canonical_json([project.openai.model_dump(mode="json"), project.name, version],
                                      ensure_ascii=True).encode())
    for path in (train, validation):
        if path is not None:
            h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


def _safe(e: Exception) -> str:
    key = os.environ.get("OPENAI_API_KEY")
    text = str(e)
    return text.replace(key, "***") if key else text


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


class OpenAIBackend:
    """The `Backend` for OpenAI fine-tuning; its base model is `openai.model` on the same endpoint."""

    name = "openai"
    cloud = True

    def estimate(self, project: ProjectSpec, dataset: Dataset) -> dict[str, Any] | None:
        e = estimate_job(project, dataset.path("train", "openai"))
        return {**e, "description": describe_estimate(e)}

    def fingerprint(self, project: ProjectSpec) -> dict[str, Any]:
        return {"openai": project.openai.model_dump(mode="json", exclude={"base_url"})}

    def baseline_settings(self, project: ProjectSpec) -> dict[str, Any] | None:
        return project.openai.model_dump(mode="json")

    def progress_total(self, project: ProjectSpec) -> int:
        return 0

    def train(self, job: TrainJob) -> dict[str, Any]:
        validation = job.dataset.path("validation", "openai")
        result = train_openai(job.project, job.dataset.path("train", "openai"), job.target, job.inputs[:8],
                              validation_jsonl=validation if validation.stat().st_size else None,
                              on_progress=job.on_progress)
        return {"job_id": result.job_id, "fine_tuned_model": result.fine_tuned_model, "status": result.status,
                "estimate": self.estimate(job.project, job.dataset),
                "usage": {"trained_tokens": result.trained_tokens}}

    def predictor(self, project: ProjectSpec, artifact: Path | None) -> Predictor:
        if artifact is None:
            return OpenAIPredictor(project.openai.model, base_url=project.openai.base_url,
                                   max_tokens=project.evaluation.max_new_tokens)
        job = json.loads((artifact / JOB_FILE).read_text(encoding="utf-8"))
        if not job.get("fine_tuned_model"):
            raise ConfigError(f"{artifact / JOB_FILE} names no fine-tuned model yet",
                              hint="run the training again to finish watching the job")
        return OpenAIPredictor(job["fine_tuned_model"], base_url=project.openai.base_url,
                               max_tokens=project.evaluation.max_new_tokens)

    def describe(self, summary: dict[str, Any]) -> str:
        s = summary
        used = (s.get("usage") or {}).get("trained_tokens")
        billed = f"; billed {used:,} trained tokens" if used is not None else ""
        return f"mcptrain: fine-tuning job {s['job_id']} {s['status']}: model {s['fine_tuned_model']}{billed}"
