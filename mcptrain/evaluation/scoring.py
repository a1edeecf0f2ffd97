"""`mcptrain eval --predictions FILE`: score saved model outputs, loading no model.

A predictions file is JSON Lines, one `{"id": ..., "output": ...}` per scored item:
`output` is the raw text the model generated (or an OpenAI assistant message dict).
Item ids are row ids, and `<row id>@step<n>` for each step of a multi_turn row.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mcptrain.errors import StageError
from mcptrain.evaluation.calls import Expected, load_bfcl_answers
from mcptrain.evaluation.report import (
    ItemResult,
    Raw,
    WrittenReport,
    eval_items,
    score_rows,
    write_report,
)
from mcptrain.evaluation.rules import (
    RULES,
    BfclItem,
    compare,
    load_bfcl_items,
    render_comparison,
    score_bfcl,
)


@dataclass(frozen=True)
class PredictionsReport:
    written: WrittenReport
    candidate: list[ItemResult]
    baseline: list[ItemResult] | None
    missing: list[str]  # item ids with no prediction (scored as failures)
    comparison: dict[str, Any] | None = None  # --rules both: accuracies by rule set, disagreements


def score_predictions_file(rows_jsonl_paths: Sequence[Path], predictions_jsonl: Path, out_dir: Path, *,
                           baseline_jsonl: Path | None = None, answers_files: Sequence[Path] = (),
                           chart: bool = True, rules: str = "mcptrain") -> PredictionsReport:
    """Score `predictions_jsonl` (and optionally a baseline's) against the rows; write the report.
    `rules`: mcptrain, bfcl, or both (scored by mcptrain's, BFCL's beside it; `rules.py`)."""
    if rules not in RULES:
        raise StageError(f"unknown rules {rules!r} (expected one of {', '.join(RULES)})")
    rows = [row for path in rows_jsonl_paths for row in _rows(path)]
    answers: dict[str, Expected] = {}
    items: dict[str, BfclItem] = {}
    for path in answers_files:
        answers.update(load_bfcl_answers(path))
        items.update(load_bfcl_items(path))
    item_ids = {item.id for item in eval_items(rows, answers)}
    outputs = read_predictions(predictions_jsonl, item_ids)

    def score(found: dict[str, Raw]) -> list[ItemResult]:
        return score_bfcl(rows, found, answers, items) if rules == "bfcl" else score_rows(rows, found, answers)

    baseline = score(read_predictions(baseline_jsonl, item_ids)) if baseline_jsonl is not None else None
    candidate = score(outputs)
    comparison = None
    if rules == "both":
        data = compare(candidate, score_bfcl(rows, outputs, answers, items),
                       {k: v.bfcl_category for k, v in items.items()})
        comparison = (data, render_comparison(data))
    written = write_report(out_dir, candidate, baseline, chart=chart, rules=rules, comparison=comparison)
    missing = sorted(item_ids - set(outputs))
    return PredictionsReport(written, candidate, baseline, missing, comparison[0] if comparison else None)


def read_predictions(path: Path, item_ids: set[str]) -> dict[str, Raw]:
    """`{"id", "output"}` lines. Every problem is collected before failing."""
    outputs: dict[str, Raw] = {}
    errors: list[str] = []
    for lineno, data in _lines(path, errors):
        if not isinstance(data, dict) or "id" not in data or "output" not in data:
            errors.append(f"{path}:{lineno}: expected an object with 'id' and 'output'")
            continue
        item_id, output = str(data["id"]), data["output"]
        if item_id in outputs:
            errors.append(f"{path}:{lineno}: id {item_id!r} appears twice")
        elif item_id not in item_ids:
            hint = " (multi_turn steps are '<row id>@step<n>')" if "@" not in item_id else ""
            errors.append(f"{path}:{lineno}: id {item_id!r} is not an item of the given rows{hint}")
        elif output is not None and not isinstance(output, str | dict):
            errors.append(f"{path}:{lineno}: 'output' must be text or a message object")
        else:
            outputs[item_id] = output
    _raise(errors)
    return outputs


def _rows(path: Path) -> list[dict[str, Any]]:
    errors: list[str] = []
    rows = []
    for lineno, data in _lines(path, errors):
        if not isinstance(data, dict) or "id" not in data or not isinstance(data.get("messages"), list):
            errors.append(f"{path}:{lineno}: not a canonical row (needs 'id' and 'messages'; see docs/rows.md)")
        else:
            rows.append(data)
    _raise(errors)
    return rows


def _lines(path: Path, errors: list[str]) -> list[tuple[int, Any]]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise StageError(f"{path}: cannot read: {e.strerror}") from None
    except UnicodeDecodeError:
        raise StageError(f"{path}: not UTF-8 text") from None
    out = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            out.append((lineno, json.loads(line)))
        except ValueError as e:
            errors.append(f"{path}:{lineno}: not valid JSON ({e})")
    return out


def _raise(errors: list[str]) -> None:
    if errors:
        shown = errors[:10] + ([f"... and {len(errors) - 10} more"] if len(errors) > 10 else [])
        raise StageError("\n".join(shown))
