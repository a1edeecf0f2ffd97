"""`mcptrain holdout refresh`: propose the next holdout window and zero-shot rotation.

Like `terraform plan` / `apply`: by default it shows what the refresh moves and the diff
of `mcptrain.yaml`, and writes nothing; `--write` applies that diff (a round-trip edit
that keeps comments, written atomically), for a person to review with `git diff` and
commit. The quarterly workflow opens that change as a pull request; the holdout itself is
read only by `mcptrain eval --holdout`, never by `reconcile`.
"""

from __future__ import annotations

import datetime as dt
import difflib
from pathlib import Path
from typing import Any

from mcptrain import output
from mcptrain.errors import ConfigError

SHOWN = 8  # ids listed per line before "and N more"


def refresh(root: Path, *, today: dt.date | None = None, rotate_tools: bool = True, write: bool = False) -> int:
    from mcptrain.dataset.holdout import propose_refresh
    from mcptrain.files import replace_file
    from mcptrain.specs.loader import PROJECT_FILE
    from mcptrain.specs.yaml import dump_roundtrip, load_roundtrip
    from mcptrain.workspace import Workspace

    ws = Workspace(root)
    specs, diags = ws.load_specs()
    if any(d.severity == "error" for d in diags):
        output.diagnostics(diags)
        return 1
    path = root / PROJECT_FILE
    if not path.is_file():
        raise ConfigError(f"{path} does not exist", hint="run `mcptrain init` first")
    proposal = propose_refresh(specs, today or dt.date.today(), rotate_tools=rotate_tools)
    _show(proposal)
    if not proposal.changes:
        output.info("mcptrain: the holdout window and the zero-shot rotation are current; nothing to change")
        return 0
    before = path.read_text(encoding="utf-8")
    data = load_roundtrip(path)
    splits = _mapping(data, "splits", path)
    splits["time_holdout_after"] = proposal.next_cutoff
    splits["zero_shot_rotation"] = proposal.next_rotation
    after = dump_roundtrip(data)
    diff = difflib.unified_diff(before.splitlines(keepends=True), after.splitlines(keepends=True),
                                f"a/{PROJECT_FILE}", f"b/{PROJECT_FILE}")
    output.info("".join(diff).rstrip("\n"))
    if not write:
        output.info("mcptrain: nothing written; apply with `mcptrain holdout refresh --write`, then commit it")
        return 0
    replace_file(path, after)
    output.info(f"mcptrain: wrote {PROJECT_FILE}; next: review `git diff {PROJECT_FILE}` and commit it, "
                "then `mcptrain reconcile` rebuilds the splits and `mcptrain eval --holdout` scores the new holdout")
    return 0


def _mapping(data: Any, key: str, path: Path) -> Any:
    from mcptrain.specs.yaml import new_mapping

    if not isinstance(data, dict):
        raise ConfigError(f"{path}: not a mapping at the top level")
    if data.get(key) is None:
        data[key] = new_mapping()
    if not isinstance(data[key], dict):
        raise ConfigError(f"{path}: '{key}' is not a mapping")
    return data[key]


def _show(p: Any) -> None:
    def ids(items: list[str]) -> str:
        return ", ".join(items[:SHOWN]) + (f" and {len(items) - SHOWN} more" if len(items) > SHOWN else "")

    rows = [("time_holdout_after", str(p.cutoff or "-"), str(p.next_cutoff)),
            ("zero_shot_rotation", str(p.rotation), str(p.next_rotation))]
    output.table("holdout refresh", ["splits.", "now", "proposed"], rows)
    if p.released:
        output.info(f"leave the holdout for training ({len(p.released)}): {ids(p.released)}")
    if p.held:
        output.info(f"enter the holdout ({len(p.held)}): {ids(p.held)}")
    if p.tools_back:
        output.info(f"zero-shot tools back in training ({len(p.tools_back)}): {ids(p.tools_back)}")
    if p.tools_out:
        output.info(f"tools held out as zero-shot next ({len(p.tools_out)}): {ids(p.tools_out)}")
