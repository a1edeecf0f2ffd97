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

from mcptrain.files import write_json
from mcptrain.fingerprint import sha256_json
from mcptrain.workspace import Workspace

STAGE_FORMAT = 1


def inputs_hash(data: Any) -> str:
    return sha256_json(data)


def record_path(ws: Workspace, stage: str) -> Path:
    return ws.stages_dir / f"{stage}.json"


def read_record(ws: Workspace, stage: str) -> dict[str, Any] | None:
    try:
        data = json.loads(record_path(ws, stage).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("format") == STAGE_FORMAT else None


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
