"""Stage records: what each stage consumed and produced, in the workspace's `stages/<stage>.json`.

A stage whose recorded inputs equal the current ones, and whose outputs are still on
disk, is up to date and is not run again; that is what makes `mcptrain reconcile`
idempotent and lets a run that died part-way continue from the last finished stage.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from mcptrain import output
from mcptrain.files import write_json
from mcptrain.fingerprint import sha256_json
from mcptrain.workspace import Workspace

STAGE_FORMAT = 1


def inputs_hash(data: Any) -> str:
    return sha256_json(data)


def record_path(ws: Workspace, stage: str) -> Path:
    return ws.stages_dir / f"{stage}.json"


_warned: set[tuple[str, float]] = set()  # (record, mtime): one warning per damaged file per run


def read_record(ws: Workspace, stage: str) -> dict[str, Any] | None:
    """The stage's record; None when there is none, or when it is damaged (a warning says
    so once, and the stage runs again: records are a cache of what ran, never the truth)."""
    path = record_path(ws, stage)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        _damaged(ws, path, f"not readable JSON ({e})")
        return None
    if not isinstance(data, dict) or data.get("format") != STAGE_FORMAT:
        _damaged(ws, path, "not a stage record of this mcptrain (format "
                 f"{data.get('format') if isinstance(data, dict) else '?'!r}, expected {STAGE_FORMAT})")
        return None
    if not isinstance(data.get("inputs"), str) or not isinstance(data.get("outputs"), dict):
        _damaged(ws, path, "its inputs or outputs are missing")
        return None
    return data


def _damaged(ws: Workspace, path: Path, why: str) -> None:
    try:
        key = (str(path.resolve()), path.stat().st_mtime)
    except OSError:
        return
    if key not in _warned:
        _warned.add(key)
        output.warn(f"{ws.relative(path)}: {why}; ignored, the {path.stem} stage is recomputed")


def write_record(ws: Workspace, stage: str, inputs: str, outputs: dict[str, Any]) -> dict[str, Any]:
    record = {"format": STAGE_FORMAT, "stage": stage, "inputs": inputs, "outputs": outputs,
              "finished_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
    write_json(record_path(ws, stage), record)
    return record


def up_to_date(ws: Workspace, stage: str, inputs: str, *paths: str) -> dict[str, Any] | None:
    """The stage's record when it ran on exactly `inputs` and its output paths still exist."""
    record = read_record(ws, stage)
    if record is None or record.get("inputs") != inputs:
        return None
    outputs = record.get("outputs") or {}
    if not all(outputs.get(p) and (ws.root / outputs[p]).exists() for p in paths):
        return None
    return record
