"""The rows the grown spec language compiles to, and the build that writes them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mcptrain.dataset.build import build_dataset
from mcptrain.evaluation.calls import Expected
from mcptrain.evaluation.checker import check_output
from mcptrain.evaluation.parsing import parse_output
from mcptrain.evaluation.report import eval_items, score_rows
from tests.org import write_org


def built(root: Path) -> dict[str, dict[str, Any]]:
    build_dataset(root)
    rows = {}
    for path in (root / "datasets").glob("*.jsonl"):
        for line in path.read_text().splitlines():
            row = json.loads(line)
            rows[row["id"]] = row
    return rows


@pytest.fixture(scope="module")
def rows(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    return built(write_org(tmp_path_factory.mktemp("org")))


def names(row: dict[str, Any]) -> list[str]:
    return [t["function"]["name"] for t in row["tools"]]


def calls(message: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(c["function"]["name"], c["function"]["arguments"]) for c in message.get("tool_calls") or []]


def test_a_cross_service_row_offers_the_union_with_clashes_qualified(rows: dict[str, Any]) -> None:
    row = rows["pet-rx-status"]
    assert row["services"] == ["pets", "pharmacy"]
    assert names(row) == ["find_pet", "pets__get_status", "book_visit", "refill_prescription",
                          "pharmacy__get_status"]
    assert calls(row["messages"][-1]) == [("pharmacy__get_status", {"order_id": "RX-4"}),
                                          ("pets__get_status", {"pet_id": "PET-4"})]
    assert row["target_tools"] == ["get_status"]  # unqualified: splits and the manifest count per tool


def test_the_openai_export_offers_what_the_row_calls(tmp_path: Path) -> None:
    root = write_org(tmp_path, ("cross_service",))
    report = build_dataset(root)
    assert report.checks.as_dict()["errors"] == {}
    for path in (root / "datasets" / "openai").glob("*.jsonl"):
        for line in path.read_text().splitlines():
            example = json.loads(line)
            offered = {t["function"]["name"] for t in example["tools"]}
            for m in example["messages"]:
                assert {c["function"]["name"] for c in m.get("tool_calls", [])} <= offered


def test_a_dialogue_is_scored_on_its_answer_only(rows: dict[str, Any]) -> None:
    row = rows["pet-dialogue"]
    roles = [m["role"] for m in row["messages"]]
    assert roles == ["system", "user", "assistant", "user", "assistant", "tool", "assistant"]
    assert (row["scored_from"], row["category"]) == (6, "multi_turn")
    (item,) = eval_items([row])
    assert item.prompt == row["messages"][:6]
    assert item.expected == Expected.from_calls([{"book_visit": {"date": "2025-07-01", "pet_id": "PET-3"}}])


def test_context_and_instructions_reach_the_system_prompt(rows: dict[str, Any]) -> None:
    system = rows["pet-t-4"]["messages"][0]["content"]
    assert system == ("You are a helpful assistant that calls the organisation's tools.\n\n"
                      "Today is Thursday, 2025-06-05 (Europe/Paris).\n\n"
                      "# pets\nPet ids look like PET-12; find the pet first when only a name is given.")
    assert calls(rows["pet-t-4"]["messages"][-1]) == [("book_visit", {"date": "2025-06-10", "pet_id": "PET-2"})]
    assert calls(rows["pet-tomorrow"]["messages"][-1])[0][1]["date"] == "2025-06-06"
    pharmacy = rows["rx-1#0"]["messages"][0]["content"]
    assert "The user's pharmacy: Central." in pharmacy and "# pets" not in pharmacy


def test_templated_answers_without_a_tool(rows: dict[str, Any]) -> None:
    chat = [rows[f"pet-chat#{i}"] for i in range(3)]
    assert [r["messages"][-1]["content"] for r in chat] == [
        "Hello! I'm well, thanks. How can I help with your pet?",
        "Good morning! I'm well, thanks. How can I help with your pet?",
        "Hey there! I'm well, thanks. How can I help with your pet?"]
    assert {(r["expected_action"], r["category"], r["source_id"]) for r in chat} == {
        ("no_tool", "relevance", "pet-chat")}
    assert len({r["split"] for r in chat}) == 1  # expansions never straddle splits
    assert rows["pet-refuse"]["messages"][-1]["content"] == (
        "I can't help with that: only a vet can prescribe after an examination")
    edges = [rows[f"pets-edge-1#{i}"] for i in range(4)]
    assert {r["expected_action"] for r in edges} == {"ask_for_details"}
    assert edges[2]["messages"][1]["content"] == "Book a visit for Luna"


def test_alternatives_are_accepted_by_the_checker(rows: dict[str, Any]) -> None:
    one_of, any_of = rows["pet-t-2"], rows["pet-t-3"]
    outputs = {
        "ask": "Sure, which date would you like?",
        "call": '<tool_call>{"name": "book_visit", "arguments": {"pet_id": "PET-8", "date": "2025-06-06"}}</tool_call>',
        "wrong": '<tool_call>{"name": "book_visit", "arguments": {"pet_id": "PET-1", "date": "2025-06-06"}}</tool_call>',
    }
    verdicts = {k: score_rows([one_of], {"pet-t-2": v})[0] for k, v in outputs.items()}
    assert (verdicts["ask"].correct, verdicts["call"].correct, verdicts["wrong"].correct) == (True, True, False)
    assert verdicts["call"].reason == ("the call matches (acceptable answer 2 of 2: "
                                       "book_visit(date='2025-06-06', pet_id='PET-8'))")
    assert "nor any other acceptable answer: book_visit(" in verdicts["wrong"].reason
    (item,) = eval_items([any_of])
    for clinic, ok in (("Downtown", True), ("Downtown clinic", True), (None, True), ("Uptown", False)):
        args: dict[str, Any] = {"pet_id": "PET-9", "date": "2025-06-09"}
        if clinic is not None:
            args["clinic"] = clinic
        match = check_output(parse_output([{"name": "book_visit", "arguments": args}]), item.expected, any_of["tools"])
        assert match.correct is ok, (clinic, match.reason)


def test_a_changed_tool_of_a_spanned_service_recompiles_the_rows_that_offer_it(tmp_path: Path) -> None:
    root = write_org(tmp_path, ("cross_service",))
    first = build_dataset(root)
    assert sorted(first.compiled) == ["pets", "pharmacy"]
    tools = root / "specs/pharmacy/tools.yaml"
    data = json.loads(tools.read_text())
    data["tools"][0]["description"] = "Refill a prescription (new wording)."
    tools.write_text(json.dumps(data))
    second = build_dataset(root)
    assert sorted(second.compiled) == ["pets", "pharmacy"] and second.reused == []
    third = build_dataset(root)
    assert third.compiled == [] and sorted(third.reused) == ["pets", "pharmacy"]
    row = next(r for r in third.rows if r["id"] == "pet-refill")
    assert "new wording" in json.dumps(row["tools"])
