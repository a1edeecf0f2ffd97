from __future__ import annotations

import re
from pathlib import Path

import pytest

from mcptrain.dataset.compiler import behaviour_reply, category_of, compile_service, row_settings
from mcptrain.specs import models as s
from mcptrain.specs.validator import validate_repository
from tests.builders import write, write_project, write_service
from tests.conftest import PROJECTS, REPO

SYSTEM = {"role": "system", "content": "You are a helpful assistant that calls the organisation's tools."}
# docs/rows.md is the contract with the trainer and the evaluator: every key it shows, no other.
DOCUMENTED_KEYS = set(re.findall(r'^\s+"(\w+)":', (REPO / "docs" / "rows.md").read_text(), re.M)) - {
    "role", "content", "type", "function", "name", "arguments", "tool_calls", "description", "parameters"}
OPTIONAL_KEYS = {"scored_from", "accept", "accept_steps"}  # dialogues; scenarios with alternatives


def compiled_good() -> dict[str, dict]:
    result = validate_repository(PROJECTS / "good")
    cs = compile_service(result.specs.services["payment-service"], result.specs.project_spec)
    return {row["id"]: row for row in cs.rows}


def call(tool: str, /, **args: object) -> dict:
    return {"role": "assistant", "content": None,
            "tool_calls": [{"type": "function", "function": {"name": tool, "arguments": args}}]}


def test_rows_have_exactly_the_documented_keys_but_split() -> None:
    rows = compiled_good()
    assert {"split", "tools", "target_tools", "source", "quality", "created_at", "tags", "services",
            *OPTIONAL_KEYS} <= DOCUMENTED_KEYS
    for row in rows.values():
        assert set(row) == DOCUMENTED_KEYS - {"split"} - OPTIONAL_KEYS, row["id"]


def test_a_single_call() -> None:
    row = compiled_good()["pay-001"]
    assert row["messages"] == [
        SYSTEM,
        {"role": "user", "content": "Charge customer $50 for invoice INV-123"},
        call("create_payment", amount=5000, currency="USD", invoice_id="INV-123"),
    ]
    assert (row["kind"], row["category"], row["source_id"], row["target_tools"]) == (
        "example", "simple", "pay-001", ["create_payment"])


def test_a_sequence_feeds_each_result_to_the_next_call() -> None:
    row = compiled_good()["pay-002"]
    assert row["messages"][2:] == [
        call("get_customer_by_name", name="John"),
        {"role": "tool", "name": "get_customer_by_name", "content": '{"customer_id": "C-17"}'},
        call("get_latest_order", customer_id="C-17"),
        {"role": "tool", "name": "get_latest_order", "content": '{"order_id": "O-9", "order_total": 4200}'},
        call("create_payment", amount=4200, customer_id="C-17"),
    ]
    assert row["category"] == "multi_turn"
    assert row["target_tools"] == ["create_payment", "get_customer_by_name", "get_latest_order"]


def test_template_expansions_share_their_source_id() -> None:
    rows = compiled_good()
    expansions = [r for r in rows.values() if r["source_id"] == "pay-003"]
    assert [r["id"] for r in expansions] == [f"pay-003#{i}" for i in range(12)]
    last = rows["pay-003#11"]
    assert last["messages"][1:] == [
        {"role": "user", "content": "Take a payment of $99.5 for invoice INV-88"},
        call("create_payment", amount=9950, currency="USD", invoice_id="INV-88"),
    ]


def test_parallel_calls_go_in_one_assistant_turn() -> None:
    row = compiled_good()["pay-004"]
    assert row["category"] == "parallel"
    assert [tc["function"]["arguments"] for tc in row["messages"][2]["tool_calls"]] == [
        {"payment_id": "P-1"}, {"payment_id": "P-2"}]


def test_a_call_among_look_alike_tools_is_multiple() -> None:
    # get_payments, get_payment_status, get_customer_by_name, get_latest_order share the verb
    assert compiled_good()["pay-005"]["category"] == "multiple"


def test_edge_cases_are_text_replies() -> None:
    rows = compiled_good()
    clarify, details = rows["pay-edge-001"], rows["pay-edge-002"]
    assert clarify["messages"][2] == {"role": "assistant", "content": "Did you mean $20.00?"}
    assert (clarify["kind"], clarify["category"], clarify["expected_action"]) == ("edge_case", "edge_case", "clarify")
    assert details["messages"][2]["content"] == (
        "I can do that, but I need a few more details first: the amount and customer id. Could you provide them?")
    assert details["required_fields"] == ["amount", "customer_id"]


def test_scenarios_carry_priority_and_threshold() -> None:
    row = compiled_good()["PAY-T-001"]
    assert (row["kind"], row["priority"], row["min_accuracy_required"], row["category"]) == (
        "scenario", "critical", 0.98, "simple")


@pytest.mark.parametrize(("expect", "reply"), [
    ({"action": "refuse", "response": "No."}, "No."),
    ({"action": "refuse", "reason": "it is unsafe"}, "I can't help with that: it is unsafe"),
    ({"action": "refuse"}, "I can't help with that request."),
    ({"action": "no_tool"}, "I can answer that directly; it doesn't need any of the tools."),
    ({"action": "clarify"}, "Could you tell me a bit more about what you need?"),
    ({"action": "ask_for_details", "required_fields": ["amount"]},
     "I can do that, but I need a few more details first: the amount. Could you provide them?"),
    ({"action": "ask_for_details", "required_fields": ["a", "b", "c"], "question": "Which a, b, c?"}, "Which a, b, c?"),
])
def test_behaviour_replies(expect: dict, reply: str) -> None:
    assert behaviour_reply(s.ExpectSpec.model_validate(expect)) == reply


def test_categories() -> None:
    one, two = ("t_get", {}), ("t_list", {})
    assert category_of([one], sequence=False, shared_verbs=set()) == "simple"
    assert category_of([one], sequence=False, shared_verbs={"t"}) == "multiple"
    assert category_of([one, one], sequence=False, shared_verbs=set()) == "parallel"
    assert category_of([one, two], sequence=False, shared_verbs=set()) == "parallel_multiple"
    assert category_of([one, two], sequence=True, shared_verbs=set()) == "multi_turn"


def test_no_tool_is_relevance_and_scenario_category_overrides(tmp_path: Path) -> None:
    write_project(tmp_path, system_prompt="Be brief.")
    write_service(tmp_path, "alpha", tools=2, examples_per_tool=1,
                  edge_cases=[{"id": "e1", "query": "Tell me a joke", "expect": {"action": "no_tool"},
                               "tool": "alpha_get", "created_at": "2025-01-02"}],
                  scenarios=[{"id": "s1", "query": "Fetch R-1 please", "category": "multiple", "tags": ["x"],
                              "expect": {"call": {"alpha_get": {"ref": "R-1"}}}}])
    write(tmp_path / "specs" / "alpha" / "examples" / "more.yaml", {
        "kind": "Examples", "service": "alpha", "examples": [
            {"id": "m1", "query": "Make R-5 and fetch R-6", "source": "production", "quality": "silver",
             "calls": [{"alpha_create": {"ref": "R-5"}}, {"alpha_get": {"ref": "R-6"}}]}]})
    result = validate_repository(tmp_path)
    assert result.errors == []
    rows = {r["id"]: r for r in compile_service(result.specs.services["alpha"], result.specs.project_spec).rows}
    assert (rows["e1"]["category"], rows["e1"]["target_tools"], rows["e1"]["created_at"]) == (
        "relevance", ["alpha_get"], "2025-01-02")
    assert (rows["s1"]["category"], rows["s1"]["tags"]) == ("multiple", ["x"])
    assert (rows["m1"]["category"], rows["m1"]["source"], rows["m1"]["quality"]) == (
        "parallel_multiple", "production", "silver")
    assert rows["m1"]["messages"][0] == {"role": "system", "content": "Be brief."}


def test_row_settings_are_what_the_cache_key_needs() -> None:
    project = s.ProjectSpec.model_validate({"apiVersion": "mcptrain/v1", "kind": "Project", "name": "x"})
    assert sorted(row_settings(project)) == ["context", "context_template", "domain_knowledge",
                                             "max_template_expansions", "rows_format", "system_prompt"]


def test_domain_knowledge_follows_the_system_prompt_when_asked() -> None:
    result = validate_repository(PROJECTS / "good")
    bundle, plain = result.specs.services["payment-service"], result.specs.project_spec
    rows = compile_service(bundle, plain).rows
    assert {r["messages"][0]["content"] for r in rows} == {SYSTEM["content"]}
    knowing = plain.model_copy(update={"prompt": s.PromptSpec(domain_knowledge=True)})
    assert row_settings(knowing) != row_settings(plain)  # a new cache key: the rows change
    (system,) = {r["messages"][0]["content"] for r in compile_service(bundle, knowing).rows}
    assert system == (
        f"{SYSTEM['content']}\n\n"
        "Rules for arguments:\n- create_payment.amount: in cents\n\n"
        "Use the canonical values:\n- get_payments.status: pending (users say: waiting, in progress, not done); "
        "completed (users say: successful, done, went through)")


def test_single_call_rows_carry_their_documented_and_unit_mistakes() -> None:
    rows = compiled_good()
    assert rows["pay-001"]["common_mistakes"] == [
        {"call": {"create_payment": {"amount": 50}}, "reason": "amount must be in cents"},
        {"call": {"create_payment": {"amount": 50, "currency": "USD", "invoice_id": "INV-123"}},
         "reason": "amount in dollars, not cents"},
        {"call": {"create_payment": {"amount": 500000, "currency": "USD", "invoice_id": "INV-123"}},
         "reason": "amount in dollars×100 twice"},
    ]
    assert rows["PAY-T-001"]["common_mistakes"][1]["call"] == {
        "create_payment": {"amount": 500000, "invoice_id": "INV-123"}}  # scenarios too: from the rules
    assert rows["pay-002"]["common_mistakes"] == []  # a sequence


def test_later_steps_of_a_one_of_sequence_accept_every_option_that_shares_the_history(tmp_path: Path) -> None:
    from mcptrain.evaluation.report import eval_items, score_rows

    def step(tool: str, ref: object, result: dict) -> dict:
        return {"call": {tool: {"ref": ref}}, "result": result}

    write_project(tmp_path)
    write_service(tmp_path, "alpha", tools=4, examples_per_tool=1, scenarios=[{
        "id": "s1", "query": "Find R-1 and then deal with it", "expect": {"one_of": [
            {"sequence": [step("alpha_get", "R-1", {"ok": 1}), step("alpha_update", "R-1", {"ok": 2}),
                          step("alpha_list", "R-1", {})]},
            {"sequence": [step("alpha_get", "R-1", {"ok": 1}),
                          step("alpha_create", {"any_of": ["R-1", "r-1"]}, {"ok": 3})]},
            {"sequence": [step("alpha_list", "R-1", {}), step("alpha_create", "R-9", {})]}]}}])
    result = validate_repository(tmp_path)
    assert result.errors == []
    row = next(r for r in compile_service(result.specs.services["alpha"], result.specs.project_spec).rows
               if r["id"] == "s1")
    assert sorted(row["accept_steps"]) == ["2", "3"]
    items = {i.id: i for i in eval_items([row])}
    assert sorted(items) == ["s1@step1", "s1@step2", "s1@step3"]

    def scored(outputs: dict[str, dict]) -> dict[str, bool]:
        return {r.id: r.correct for r in score_rows([row], outputs)}

    def out(tool: str, ref: str) -> dict:
        return {"tool_calls": [{"name": tool, "arguments": {"ref": ref}}]}

    # step 1: any option's first call; step 2 (after the first option's alpha_get and its result):
    # the first or the second option's second call, with the second's alternatives; not the third's
    assert scored({"s1@step1": out("alpha_list", "R-1"), "s1@step2": out("alpha_create", "r-1"),
                   "s1@step3": out("alpha_list", "R-1")}) == {"s1@step1": True, "s1@step2": True, "s1@step3": True}
    assert scored({"s1@step1": out("alpha_get", "R-1"), "s1@step2": out("alpha_update", "R-1"),
                   "s1@step3": out("alpha_create", "R-1")})["s1@step2"] is True
    wrong = scored({"s1@step1": out("alpha_get", "R-1"), "s1@step2": out("alpha_create", "R-9"),
                    "s1@step3": out("alpha_create", "R-1")})
    assert (wrong["s1@step2"], wrong["s1@step3"]) == (False, False)
