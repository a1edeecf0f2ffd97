from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mcptrain.evaluation.calls import Expected
from mcptrain.evaluation.report import (
    eval_items,
    render_markdown,
    report_data,
    score_rows,
    summarize,
    write_report,
)

TOOLS = [
    {"type": "function", "function": {"name": "create_payment", "parameters": {
        "type": "object", "properties": {"amount": {"type": "integer"}, "currency": {"type": "string",
                                                                                    "default": "USD"}},
        "required": ["amount"]}}},
    {"type": "function", "function": {"name": "get_status", "parameters": {
        "type": "object", "properties": {"payment_id": {"type": "string"}}}}},
]
SYSTEM = {"role": "system", "content": "sys"}


def calls(*pairs: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    return {"role": "assistant", "content": None,
            "tool_calls": [{"type": "function", "function": {"name": n, "arguments": a}} for n, a in pairs]}


def row(row_id: str, category: str, turns: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    base = {"id": row_id, "source_id": row_id.split("#")[0], "service": "payment", "kind": "example",
            "category": category, "split": "test", "priority": "normal", "min_accuracy_required": None,
            "expected_action": None, "required_fields": None, "tools": TOOLS,
            "messages": [SYSTEM, {"role": "user", "content": f"query {row_id}"}, *turns]}
    return {**base, **extra}


ROWS = [
    row("pay-1", "simple", [calls(("create_payment", {"amount": 5000}))]),
    row("pay-2", "parallel", [calls(("get_status", {"payment_id": "P-1"}), ("get_status", {"payment_id": "P-2"}))]),
    row("pay-3", "multi_turn", [calls(("get_status", {"payment_id": "P-1"})),
                                {"role": "tool", "name": "get_status", "content": "{\"amount\": 42}"},
                                calls(("create_payment", {"amount": 42}))], split="orchestration"),
    row("pay-edge-1", "edge_case", [{"role": "assistant", "content": "How much?"}], expected_action="clarify"),
    row("pay-rel-1", "relevance", [{"role": "assistant", "content": "No tool."}], expected_action="no_tool"),
    row("PAY-T-1", "simple", [calls(("create_payment", {"amount": 100}))], kind="scenario", split="scenarios",
        priority="critical", min_accuracy_required=0.98, service="billing"),
    row("pay-zs-1", "simple", [calls(("get_status", {"payment_id": "Z"}))], split="zero_shot"),
]


def hermes(name: str, args: dict[str, Any]) -> str:
    return "<tool_call>" + json.dumps({"name": name, "arguments": args}) + "</tool_call>"


CANDIDATE = {
    "pay-1": hermes("create_payment", {"amount": 5000, "currency": "USD"}),
    "pay-2": hermes("get_status", {"payment_id": "P-2"}) + hermes("get_status", {"payment_id": "P-1"}),
    "pay-3@step1": hermes("get_status", {"payment_id": "P-1"}),
    "pay-3@step2": hermes("create_payment", {"amount": 4200}),
    "pay-edge-1": "How much should I charge?",
    "pay-rel-1": '{"name": "get_status", "arguments": {',
    "PAY-T-1": hermes("create_payment", {"amount": 100}),
    "pay-zs-1": "I don't know that tool.",
}
BASE = {"pay-1": "Sure, done.", "pay-2": hermes("get_status", {"payment_id": "P-1"}),
        "pay-edge-1": hermes("create_payment", {"amount": 20}), "pay-rel-1": "No.", "PAY-T-1": "ok"}


def test_eval_items_split_multi_turn_rows_into_steps() -> None:
    items = eval_items(ROWS)
    assert [i.id for i in items] == ["pay-1", "pay-2", "pay-3@step1", "pay-3@step2", "pay-edge-1", "pay-rel-1",
                                     "PAY-T-1", "pay-zs-1"]
    step2 = items[3]
    assert [m["role"] for m in step2.prompt] == ["system", "user", "assistant", "tool"]
    assert step2.expected == Expected.from_calls([{"create_payment": {"amount": 42}}])
    assert items[4].expected == Expected.behaviour("clarify")


def test_eval_items_take_answers_from_a_sidecar() -> None:
    answers = {"pay-1": Expected.from_bfcl([{"create_payment": {"amount": [5000, 50]}}])}
    results = score_rows(ROWS[:1], {"pay-1": hermes("create_payment", {"amount": 50})}, answers)
    assert results[0].correct


def test_eval_items_need_an_assistant_turn() -> None:
    with pytest.raises(ValueError, match=r"^row 'x' has no assistant turn to score$"):
        eval_items([row("x", "simple", [])])


def test_score_rows() -> None:
    results = {r.id: r for r in score_rows(ROWS, CANDIDATE)}
    assert {k: (r.outcome, r.correct) for k, r in results.items()} == {
        "pay-1": ("correct", True), "pay-2": ("correct", True), "pay-3@step1": ("correct", True),
        "pay-3@step2": ("wrong_arguments", False), "pay-edge-1": ("clarified", True),
        "pay-rel-1": ("malformed", False), "PAY-T-1": ("correct", True), "pay-zs-1": ("abstained", False)}
    assert results["pay-3@step2"].reason == "argument 'amount': expected 42, got 4200"
    assert results["PAY-T-1"].scenario == "PAY-T-1"
    assert results["pay-1"].scenario is None


def test_missing_output_is_a_failure() -> None:
    (result,) = score_rows(ROWS[:1], {})
    assert (result.outcome, result.correct, result.reason) == ("malformed", False, "no output for this item")


def test_summarize() -> None:
    summary = summarize(score_rows(ROWS, CANDIDATE))
    assert summary["overall"] == {"n": 8, "correct": 5, "accuracy": 5 / 8}
    assert list(summary["by"]["category"]) == ["simple", "parallel", "relevance", "multi_turn", "edge_case",
                                               "zero_shot"]
    assert summary["by"]["category"]["simple"] == {"n": 3, "correct": 2, "accuracy": 2 / 3}
    assert summary["by"]["category"]["zero_shot"] == {"n": 1, "correct": 0, "accuracy": 0.0}
    assert summary["by"]["service"]["billing"]["n"] == 1
    assert summary["by"]["split"]["orchestration"] == {"n": 2, "correct": 1, "accuracy": 0.5}
    assert list(summary["by"]["priority"]) == ["critical", "normal"]
    assert summary["by"]["scenario"] == {"PAY-T-1": {"n": 1, "correct": 1, "accuracy": 1.0}}
    assert summary["outcomes"] == {"abstained": 1, "clarified": 1, "correct": 4, "malformed": 1,
                                   "wrong_arguments": 1}
    assert summary["scenario_checks"] == [{"scenario": "PAY-T-1", "service": "billing", "priority": "critical",
                                           "required": 0.98, "accuracy": 1.0, "passed": True, "n": 1}]


def test_scenario_below_its_minimum_fails() -> None:
    checks = summarize(score_rows(ROWS, BASE))["scenario_checks"]
    assert [(c["scenario"], c["accuracy"], c["passed"]) for c in checks] == [("PAY-T-1", 0.0, False)]


def test_report_data_pairs_base_and_candidate_items() -> None:
    data = report_data(score_rows(ROWS, CANDIDATE), score_rows(ROWS, BASE))
    item = next(i for i in data["items"] if i["id"] == "pay-edge-1")
    assert item["candidate"] == {"outcome": "clarified", "correct": True,
                                 "reason": "asked for clarification, as expected (clarify)"}
    assert item["baseline"] == {"outcome": "extra_call", "correct": False,
                                "reason": "expected no tool call (clarify), got create_payment(amount=20)"}
    assert item["category"] == "edge_case"


def test_markdown_side_by_side() -> None:
    md = render_markdown(report_data(score_rows(ROWS, CANDIDATE), score_rows(ROWS, BASE)))
    lines = md.splitlines()
    assert lines[2] == ("Overall: **62.5%** (5/8) · base 12.5% (1/8) · Δ +50.0 pp "
                        "(95% interval +0.0 to +87.5 pp over 7 source rows)")
    start = lines.index("| category | base | candidate | Δ | n |")
    assert lines[start: start + 8] == [
        "| category | base | candidate | Δ | n |",
        "|---|---:|---:|---:|---:|",
        "| simple | 0.0% | 66.7% | +66.7 pp | 3 |",
        "| parallel | 0.0% | 100.0% | +100.0 pp | 1 |",
        "| relevance | 100.0% | 0.0% | -100.0 pp | 1 |",
        "| multi_turn | 0.0% | 50.0% | +50.0 pp | 2 |",
        "| edge_case | 0.0% | 100.0% | +100.0 pp | 1 |",
        "| zero_shot | 0.0% | 0.0% | +0.0 pp | 1 |",
    ]
    assert "| PAY-T-1 | critical | 98.0% | 100.0% | pass |" in lines
    assert "| pay-3@step2 | multi_turn | wrong_arguments | argument 'amount': expected 42, got 4200 |" in lines
    assert "<details><summary>3 failing items</summary>" in lines


def test_markdown_without_baseline() -> None:
    md = render_markdown(report_data(score_rows(ROWS[:1], {"pay-1": "x | y"})))
    assert "| simple | — | 0.0% | — | 1 |" in md.splitlines()
    assert md.splitlines()[2] == "Overall: **0.0%** (0/1)"
    assert "| pay-1 | simple | abstained | no tool call; expected create_payment(amount=5000) |" in md


def test_write_report(tmp_path: Path) -> None:
    out = tmp_path / "eval"
    written = write_report(out, score_rows(ROWS, CANDIDATE), score_rows(ROWS, BASE), chart=False)
    assert written.chart is None
    assert sorted(p.name for p in out.iterdir()) == ["report.json", "report.md"]
    data = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert data["format"] == 1
    assert data["baseline"]["overall"]["correct"] == 1
    assert data["candidate"]["by"]["category"]["parallel"]["accuracy"] == 1.0
    assert written.summary["overall"]["correct"] == 5
    write_report(out, score_rows(ROWS, CANDIDATE), chart=False)  # a rerun replaces its own files
    assert json.loads((out / "report.json").read_text(encoding="utf-8"))["baseline"] is None


def test_write_report_chart(tmp_path: Path) -> None:
    written = write_report(tmp_path, score_rows(ROWS, CANDIDATE), score_rows(ROWS, BASE))
    assert written.chart == tmp_path / "accuracy.png"
    assert (tmp_path / "accuracy.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp files left


def test_tags_are_a_report_dimension_across_services_and_diagnostics_stay_apart() -> None:
    pay = calls(("create_payment", {"amount": 5}))
    rows = [row("s1", "simple", [pay], kind="scenario", tags=["payment", "critical-path"]),
            row("s2", "simple", [pay], kind="scenario", tags=["payment"], service="billing"),
            row("s3", "simple", [pay], kind="scenario")]
    right = json.dumps({"name": "create_payment", "arguments": {"amount": 5}})
    results = score_rows(rows, {"s1": right, "s2": "no idea", "s3": right})
    by_tag = summarize(results)["by"]["tag"]
    assert by_tag == {"critical-path": {"n": 1, "correct": 1, "accuracy": 1.0},
                      "payment": {"n": 2, "correct": 1, "accuracy": 0.5}}
    seen = score_rows([row("t1", "simple", [pay], split="train")], {"t1": right})
    data = report_data(results, diagnostics=seen)
    assert data["candidate"]["overall"]["n"] == 3  # the diagnostic row is not scored with the rest
    assert data["diagnostics"]["train"]["overall"] == {"n": 1, "correct": 1, "accuracy": 1.0}
    assert [i["id"] for i in data["diagnostic_items"]] == ["t1"]
    text = render_markdown(data)
    assert "| tag | base | candidate | Δ | n |" in text and "| payment | — | 50.0% | — | 2 |" in text
    assert "### Diagnostics (not gated)" in text and "| seen phrasings (a sample of train rows) | 100.0% | 1 |" in text


def test_gain_per_category_includes_the_zero_shot_split_and_the_cli_shows_the_intervals(
        capsys: pytest.CaptureFixture[str]) -> None:
    """report.json's `gain` covers every row of the category table, zero_shot (a split, counted
    as a category) included; the terminal table prints each interval and the overall one."""
    from mcptrain.commands.eval import show_report
    from mcptrain.evaluation.report import ItemResult, summarize

    def result(i: int, split: str, correct: bool) -> ItemResult:
        return ItemResult(f"{split}-{i}", f"{split}-{i}", "simple", "svc", split, "normal", None, None,
                          "correct" if correct else "wrong_function", correct, "", source_id=f"{split}-{i // 2}")

    candidate = [result(i, s, i % 3 != 0) for s in ("test", "zero_shot") for i in range(12)]
    baseline = [result(i, s, i % 4 == 0) for s in ("test", "zero_shot") for i in range(12)]
    data = report_data(candidate, baseline)
    by_category = data["gain"]["by_category"]
    assert set(by_category) == set(data["candidate"]["by"]["category"]) == {"simple", "zero_shot"}
    assert by_category["zero_shot"]["items"] == 12 and by_category["zero_shot"]["sources"] == 6
    assert by_category["zero_shot"]["low"] <= by_category["zero_shot"]["gain"] <= by_category["zero_shot"]["high"]
    show_report(summarize(candidate), summarize(baseline), gain=data["gain"])
    printed = capsys.readouterr()
    text = printed.out + printed.err
    assert "95% interval" in text
    zero = by_category["zero_shot"]
    assert f"{100 * zero['low']:+.1f} to {100 * zero['high']:+.1f}" in text
    assert "gain over the base model: +" in text and "over 12 source rows" in text
