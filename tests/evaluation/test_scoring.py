from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mcptrain.errors import StageError
from mcptrain.evaluation.scoring import score_predictions_file
from tests.evaluation.test_report import BASE, CANDIDATE, ROWS


def lines(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return path


def predictions(path: Path, outputs: dict[str, Any]) -> Path:
    return lines(path, [{"id": k, "output": v} for k, v in outputs.items()])


def test_scores_a_predictions_file(tmp_path: Path) -> None:
    rows = lines(tmp_path / "test.jsonl", ROWS[:4])
    more = lines(tmp_path / "scenarios.jsonl", ROWS[4:])
    preds = predictions(tmp_path / "preds.jsonl", {k: v for k, v in CANDIDATE.items() if k != "pay-zs-1"})
    base = predictions(tmp_path / "base.jsonl", BASE)
    report = score_predictions_file([rows, more], preds, tmp_path / "out", baseline_jsonl=base, chart=False)
    assert report.missing == ["pay-zs-1"]
    assert report.written.summary["overall"] == {"n": 8, "correct": 5, "accuracy": 5 / 8}
    assert report.baseline is not None and sum(r.correct for r in report.baseline) == 1
    data = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))
    zs = next(i for i in data["items"] if i["id"] == "pay-zs-1")
    assert zs["candidate"]["reason"] == "no output for this item"
    assert (tmp_path / "out" / "report.md").is_file()


def test_openai_message_outputs(tmp_path: Path) -> None:
    rows = lines(tmp_path / "test.jsonl", ROWS[:1])
    msg = {"role": "assistant", "tool_calls": [{"type": "function", "function": {
        "name": "create_payment", "arguments": "{\"amount\": 5000}"}}]}
    preds = predictions(tmp_path / "p.jsonl", {"pay-1": msg})
    assert score_predictions_file([rows], preds, tmp_path / "out", chart=False).candidate[0].correct


def test_sidecar_answers(tmp_path: Path) -> None:
    rows = lines(tmp_path / "test.jsonl", ROWS[:1])
    sidecar = tmp_path / "bfcl_answers.json"
    sidecar.write_text(json.dumps({"items": {"pay-1": {"ground_truth": [
        {"create_payment": {"amount": [5000, 50]}}]}}}), encoding="utf-8")
    preds = predictions(tmp_path / "p.jsonl", {"pay-1": "[create_payment(amount=50)]"})
    report = score_predictions_file([rows], preds, tmp_path / "out", answers_files=[sidecar], chart=False)
    assert report.candidate[0].correct


def test_every_problem_in_the_predictions_is_reported(tmp_path: Path) -> None:
    rows = lines(tmp_path / "test.jsonl", ROWS[:3])
    preds = lines(tmp_path / "p.jsonl", [
        {"id": "pay-1", "output": "x"}, "{oops", {"id": "pay-1", "output": "y"}, {"output": "z"},
        {"id": "pay-3", "output": "w"}, {"id": "pay-2", "output": 3}, ""])
    with pytest.raises(StageError) as e:
        score_predictions_file([rows], preds, tmp_path / "out")
    assert str(e.value).splitlines() == [
        f"{preds}:2: not valid JSON (Expecting property name enclosed in double quotes: line 1 column 2 (char 1))",
        f"{preds}:3: id 'pay-1' appears twice",
        f"{preds}:4: expected an object with 'id' and 'output'",
        f"{preds}:5: id 'pay-3' is not an item of the given rows (multi_turn steps are '<row id>@step<n>')",
        f"{preds}:6: 'output' must be text or a message object",
    ]
    assert not (tmp_path / "out").exists()


def test_rows_must_be_canonical(tmp_path: Path) -> None:
    rows = lines(tmp_path / "test.jsonl", [{"id": "x"}])
    with pytest.raises(StageError) as e:
        score_predictions_file([rows], rows, tmp_path / "out")
    assert str(e.value) == f"{rows}:1: not a canonical row (needs 'id' and 'messages'; see docs/rows.md)"
    with pytest.raises(StageError) as e:
        score_predictions_file([tmp_path / "nope.jsonl"], rows, tmp_path / "out")
    assert str(e.value) == f"{tmp_path / 'nope.jsonl'}: cannot read: No such file or directory"
