"""`train_lora`: canonical rows in, a LoRA adapter directory out.

The caller's process tokenises (so the prompt format is fixed before any worker starts),
the loop runs on Ray Train (or inline), and the final checkpoint is exported to
`out_dir`: the peft adapter, the tokenizer, `chat_template.jinja` (the exact format
trained on, for serving) and `training_summary.json`; optionally a merged model.

Re-running with the same `out_dir` and `run_name` continues from the last checkpoint;
re-running a finished run with the same inputs does nothing and says so.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from mcptrain.errors import StageError
from mcptrain.files import write_json
from mcptrain.fingerprint import canonical_json, sha256_json
from mcptrain.specs.models import ProjectSpec
from mcptrain.training import checkpoint as ckpt
from mcptrain.training.batches import PLAN_VERSION
from mcptrain.training.progress import OnProgress, ProgressEvent

SUMMARY = "training_summary.json"
TEMPLATE_FILE = "chat_template.jinja"
ADAPTER_FILES = ("adapter_model.safetensors", "adapter_config.json")
SUMMARY_FORMAT = 1


@dataclass(frozen=True)
class TrainingResult:
    out_dir: Path
    summary: dict[str, Any]
    reused: bool  # out_dir already held this exact training; nothing ran


def rows_sha256(*splits: Sequence[dict[str, Any]]) -> str:
    """The rows as training reads them: a field only decoding reads (`canonical_values`)
    changes no run's fingerprint."""
    from mcptrain.dataset.handle import training_view

    h = hashlib.sha256()
    for rows in splits:
        for row in rows:
            h.update(canonical_json(training_view(row)).encode())
            h.update(b"\n")
        h.update(b"\0")
    return h.hexdigest()


def run_fingerprint(project: ProjectSpec, data_sha256: str, template: str) -> str:
    return sha256_json({
        "base_model": project.base_model, "data": data_sha256,
        "training": project.training.model_dump(mode="json"),
        "template": hashlib.sha256(template.encode()).hexdigest(),
        "batch_plan": PLAN_VERSION,
    }, ensure_ascii=True)


def train_lora(project: ProjectSpec, rows_train: Sequence[dict[str, Any]],
               rows_val: Sequence[dict[str, Any]], out_dir: Path, run_name: str, *,
               on_progress: OnProgress | None = None,
               runner: Literal["ray", "inline"] = "ray",
               keep_checkpoints: int = 2) -> TrainingResult:
    """Train a LoRA adapter for `project` on canonical rows; see the module docstring.

    `keep_checkpoints`: how many of the newest checkpoints an inline run keeps (a learning
    curve keeps them all)."""
    from mcptrain.training.model import load_tokenizer, resolve_base_model
    from mcptrain.training.prompt import choose_template, encode_row

    started = time.time()
    emit = on_progress or (lambda e: None)
    if not rows_train:
        raise StageError("train: the training split is empty; add examples or change splits")
    out_dir = Path(out_dir).resolve()
    data_sha = rows_sha256(rows_train, rows_val)
    base_path = resolve_base_model(project.base_model,
                                   notify=lambda m: emit(ProgressEvent("info", message=m)))
    tokenizer = load_tokenizer(str(base_path))
    template = choose_template(tokenizer)
    fingerprint = run_fingerprint(project, data_sha, template)
    if (done := _finished_summary(out_dir, fingerprint)) is not None:
        from mcptrain.training.decision import stale_decision

        if not (project.training.calibrate_decision and stale_decision(out_dir)):
            return TrainingResult(out_dir, done, reused=True)
        # The adapter is this run's; only its decision was measured on prompts encoded
        # otherwise than decoding now writes them (prompt.PROMPT_REVISION): measure it again.
        emit(ProgressEvent("info", message="the adapter is up to date; its call-or-answer decision was "
                                           "calibrated on an older prompt encoding: calibrating it again"))
        done["decision"] = calibrate_decision(project, base_path, out_dir, rows_val, emit, rows_train)
        write_json(out_dir / SUMMARY, done)
        return TrainingResult(out_dir, done, reused=False)

    t = project.training
    encoded: dict[str, list[list[Any]]] = {"train": [], "validation": []}
    dropped = 0
    shown_train = list(rows_train)
    if t.behaviour_floor:
        from mcptrain.training.balance import apply_floor

        try:
            shown_train, added = apply_floor(shown_train, t.behaviour_floor, t.seed)
        except ValueError as err:
            raise StageError(f"train: training.behaviour_floor: {err}",
                             hint="lower training.behaviour_floor in mcptrain.yaml") from None
        if added:
            emit(ProgressEvent("info", message="training.behaviour_floor repeats " + ", ".join(
                f"{n} {b}" for b, n in added.items()) + f" rows ({len(shown_train)} training rows in all)"))
    if t.mask_tool_names:
        from mcptrain.training.masking import mask_rows

        shown_train, masked = mask_rows(shown_train, t.mask_tool_names, t.seed)
        emit(ProgressEvent("info", message=f"{masked} of {len(shown_train)} training rows see their tools "
                                           "under made-up names (training.mask_tool_names)"))
    for split, rows in (("train", shown_train), ("validation", rows_val)):
        for row in rows:
            e = encode_row(tokenizer, template, row)
            if len(e) > t.max_seq_len:
                dropped += 1
                continue
            encoded[split].append([e.input_ids, e.labels, e.shared])
    if not encoded["train"]:
        raise StageError(f"train: every training row is longer than max_seq_len={t.max_seq_len} "
                         "tokens", hint="raise training.max_seq_len in mcptrain.yaml")
    if dropped:
        emit(ProgressEvent("info", message=(
            f"{dropped} rows are longer than max_seq_len={t.max_seq_len} tokens and are left out")))

    storage = project.ray.storage_path or str(out_dir / "runs")
    config: dict[str, Any] = {
        "base_model": str(base_path), "training": t.model_dump(mode="json"),
        "train": encoded["train"], "validation": encoded["validation"],
        "fingerprint": fingerprint, "run_dir": None, "threads": None,
    }
    if runner == "inline":
        from mcptrain.training.loop import InlineSession, train_loop

        run_dir = Path(storage) / run_name
        _check_run(run_dir, fingerprint)
        train_loop(config, InlineSession(run_dir, on_progress, keep=keep_checkpoints))
        final = ckpt.latest_checkpoint(run_dir=run_dir)
    else:
        from mcptrain.training.ray_runner import local_run_dir, run_on_ray

        local = local_run_dir(storage, run_name)
        _check_run(local, fingerprint)
        config["run_dir"] = str(local) if local is not None else None
        config["threads"] = int(project.ray.cpus_per_worker) or None
        config["use_gpu"] = project.ray.use_gpu
        try:
            final = run_on_ray(config, project.ray, storage, run_name, on_progress)
        except Exception as e:
            if type(e).__module__.startswith("ray."):
                raise StageError(f"train: the Ray training run failed: {e}") from e
            raise
    state = ckpt.read_state(final) if final is not None else None
    if final is None or state is None or not state.get("finished"):
        raise StageError(f"train: the run {run_name!r} ended without a final checkpoint")
    summary = {
        "format": SUMMARY_FORMAT, "backend": "lora", "run_name": run_name,
        "base_model": project.base_model, "base_model_dir": base_path.name,
        "data_sha256": data_sha, "fingerprint": fingerprint,
        "template": "native" if template == getattr(tokenizer, "chat_template", None) else "hermes",
        "examples": {"train": len(encoded["train"]), "validation": len(encoded["validation"]),
                     "dropped_too_long": dropped},
        "hyperparameters": t.model_dump(mode="json"),
        "steps": state["step"], "epochs_started": state.get("epoch", 0) + 1,
        "stopped_early": state["stopped_early"], "best_step": state["best_step"],
        "adapter": "best" if (final / ckpt.BEST).is_dir() else "last",
        "train_loss_final": state.get("train_loss_final"),
        "val_loss_final": state.get("val_loss_final"),
        "val_loss_last": next((h["val_loss"] for h in reversed(state["history"]) if "val_loss" in h), None),
        "history": state["history"], "precision": state.get("precision"),
        "train_seconds": round(state["train_seconds"], 2),
        "tokens_per_s": round(state["real_tokens"] / max(state["train_seconds"], 1e-9), 1),
        "computed_tokens_per_s": round(state["computed_tokens"] / max(state["train_seconds"], 1e-9), 1),
        "resumed_from": state.get("resumed_from", []),
        "runner": runner, "ray_workers": project.ray.num_workers if runner == "ray" else 0,
        # The cluster this call ran on: None for a local instance started for the run.
        "ray_address": (project.ray.address or os.environ.get("RAY_ADDRESS")) if runner == "ray" else None,
    }
    export_adapter(final, out_dir, tokenizer, template, project.base_model)
    if t.merge_adapter:
        merge_adapter(out_dir, base_path)
    summary["decision"] = calibrate_decision(project, base_path, out_dir, rows_val, emit, rows_train)
    summary["wall_seconds"] = round(time.time() - started, 2)
    write_json(out_dir / SUMMARY, summary)
    emit(ProgressEvent("done", state["step"], t.max_steps, message=f"adapter written to {out_dir}",
                       metrics={"train_seconds": state["train_seconds"]}))
    return TrainingResult(out_dir, summary, reused=False)


def calibrate_decision(project: ProjectSpec, base_path: Path, out_dir: Path,
                       rows_val: Sequence[dict[str, Any]], emit: OnProgress,
                       rows_train: Sequence[dict[str, Any]] = ()) -> dict[str, Any] | None:
    """The call-or-answer threshold, chosen on the validation split, and with `rows_train`
    the heads the project asks for (`training.decision_head`, `training.another_call_head`)
    fitted on the training turns (training/decision.py)."""
    from mcptrain.training.decision import DECISION_FILE, calibrate
    from mcptrain.training.predictor import LocalPredictor

    if not project.training.calibrate_decision:
        (out_dir / DECISION_FILE).unlink(missing_ok=True)
        return None
    predictor = LocalPredictor(str(base_path), out_dir, batch_size=project.evaluation.batch_size,
                               precision=project.training.precision, constrained=False, calibrated=False)
    evidence = calibrate(predictor, list(rows_val), out_dir, list(rows_train),
                         project.training.decision_head_inputs, call_head=project.training.decision_head,
                         more_head=project.training.another_call_head)
    if evidence.get("threshold") is None:
        emit(ProgressEvent("info", message=f"call-or-answer decision not calibrated: {evidence['why']}"))
    else:
        emit(ProgressEvent("info", message=_calibrated(
            "call-or-answer", evidence["trigger_threshold"], evidence["trigger_right"], f"{evidence['turns']} validation turns",
            f"greedy decoding: {evidence['greedy_right']}", "decision head", evidence.get("head"), evidence["score"])))
        more = evidence.get("more") or {}
        if "why" in more:
            emit(ProgressEvent("info", message=f"another-call decision not calibrated: {more['why']}"))
        elif more:
            emit(ProgressEvent("info", message=_calibrated(
                "another-call", more["token_threshold"], more["token_right"], f"{more['call_ends']} validation call ends",
                f"greedy: {more['greedy_right']}", "head", more.get("head"), more["score"])))
    return evidence


def _calibrated(what: str, threshold: float, right: int, of: str, greedy: str, head_name: str,
                head: Any, score: str) -> str:
    """The line a calibrated decision reports: its token's threshold, and its head if one was fitted."""
    return (f"{what} threshold {threshold:.3f}: {right} of {of} right ({greedy})"
            + (f"; {head_name} {head['right']} right ({'kept' if score == 'head' else 'not kept'})"
               if isinstance(head, dict) else ""))


def _finished_summary(out_dir: Path, fingerprint: str) -> dict[str, Any] | None:
    try:
        summary = json.loads((out_dir / SUMMARY).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(summary, dict) or summary.get("fingerprint") != fingerprint:
        return None
    if not all((out_dir / f).is_file() for f in (*ADAPTER_FILES, TEMPLATE_FILE)):
        return None
    return summary


def _check_run(run_dir: Path | None, fingerprint: str) -> None:
    """Refuse to continue a run folder that was started with other inputs."""
    if run_dir is None:
        return
    found = ckpt.latest_checkpoint(run_dir=run_dir)
    state = ckpt.read_state(found) if found is not None else None
    if state is not None and state.get("fingerprint") != fingerprint:
        raise StageError(
            f"train: {run_dir} holds a run started with other data, base model or "
            "hyperparameters, so it cannot be continued",
            hint="use a new run name, or delete that folder to start over")


def export_adapter(final: Path, out_dir: Path, tokenizer: Any, template: str, base_model: str) -> None:
    """Adapter (best by validation loss when there was validation), tokenizer, template."""
    source = final / ckpt.BEST if (final / ckpt.BEST).is_dir() else final
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in ADAPTER_FILES:
        shutil.copyfile(source / name, out_dir / (name + ".tmp"))
        os.replace(out_dir / (name + ".tmp"), out_dir / name)
    config_path = out_dir / "adapter_config.json"
    adapter_config = json.loads(config_path.read_text(encoding="utf-8"))
    # The cache path a worker loaded from means nothing elsewhere; the project's name does.
    adapter_config["base_model_name_or_path"] = base_model
    write_json(config_path, adapter_config)
    tokenizer.chat_template = template
    tokenizer.save_pretrained(out_dir)
    (out_dir / TEMPLATE_FILE).write_text(template, encoding="utf-8")


def merge_adapter(out_dir: Path, base_path: Path) -> Path:
    """A full model with the adapter merged in, at `out_dir/merged`."""
    from peft import PeftModel
    from transformers import AutoTokenizer

    from mcptrain.training.model import load_model

    with warnings.catch_warnings():  # peft calls transformers' deprecated names
        warnings.simplefilter("ignore", FutureWarning)
        merged = PeftModel.from_pretrained(load_model(str(base_path)), out_dir).merge_and_unload()
    target = out_dir / "merged"
    tmp = out_dir / ".merged.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    merged.save_pretrained(tmp)
    AutoTokenizer.from_pretrained(out_dir).save_pretrained(tmp)
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    return target
