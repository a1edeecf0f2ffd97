from __future__ import annotations

from typing import Any

import pytest

from mcptrain.errors import StageError
from mcptrain.evaluation.calls import Expected, OneOf, ToolCall, load_bfcl_answers
from mcptrain.evaluation.checker import Match, categorize, check_output, tool_schemas
from mcptrain.evaluation.parsing import Parsed, parse_output

PAY_SCHEMA = {
    "type": "object",
    "properties": {
        "amount": {"type": "integer"},
        "currency": {"type": "string", "enum": ["USD", "EUR"], "default": "USD"},
        "invoice_id": {"type": "string", "pattern": "^INV-[0-9]+$"},
        "note": {"type": "string"},
        "code": {"type": "string", "x-case-sensitive": True},
        "due": {"type": "string", "format": "date"},
        "at": {"type": "string", "format": "date-time"},
        "rate": {"type": "number"},
        "urgent": {"type": "boolean"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "labels": {"type": "array", "items": {"type": "string"}, "x-order-free": True},
        "ids": {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
        "address": {"type": "object", "properties": {
            "city": {"type": "string"}, "zip": {"type": "string", "pattern": "^[0-9]+$"},
            "country": {"type": "string", "default": "US"}}, "required": ["city"]},
        "lines": {"type": "array", "items": {"type": "object", "properties": {
            "sku": {"type": "string", "enum": ["A-1", "B-2"]}, "qty": {"type": "integer", "default": 1}}}},
        "anything": {},
    },
    "required": ["amount"],
}
TOOLS = [
    {"type": "function", "function": {"name": "create_payment", "parameters": PAY_SCHEMA}},
    {"type": "function", "function": {"name": "create_invoice", "parameters": {
        "type": "object", "properties": {"amount": {"type": "integer"}}}}},
    {"type": "function", "function": {"name": "get_status", "parameters": {
        "type": "object", "properties": {"payment_id": {"type": "string"}}, "required": ["payment_id"]}}},
]


def check(got: list[tuple[str, dict[str, Any]]] | str, expected: Expected | list[dict[str, Any]]) -> Match:
    parsed = parse_output(got) if isinstance(got, str) else Parsed(tuple(ToolCall(n, a) for n, a in got))
    exp = expected if isinstance(expected, Expected) else Expected.from_calls(expected)
    return check_output(parsed, exp, TOOLS)


def pay(**args: Any) -> list[dict[str, Any]]:
    return [{"create_payment": args}]


def test_correct_single_call() -> None:
    assert check([("create_payment", {"amount": 5000})], pay(amount=5000)) == \
        Match("correct", True, "the call matches")


def test_wrong_function() -> None:
    assert check([("create_invoice", {"amount": 5000})], pay(amount=5000)) == \
        Match("wrong_function", False, "expected function 'create_payment', got 'create_invoice'")


def test_function_names_are_exact() -> None:
    assert check([("Create_Payment", {"amount": 5000})], pay(amount=5000)).reason == \
        "expected function 'create_payment', got 'Create_Payment'"


def test_wrong_value() -> None:
    assert check([("create_payment", {"amount": 50})], pay(amount=5000)) == \
        Match("wrong_arguments", False, "argument 'amount': expected 5000, got 50")


def test_missing_required_argument() -> None:
    assert check([("create_payment", {"note": "x"})], pay(note="x")).reason == "missing required argument 'amount'"


def test_missing_expected_argument() -> None:
    assert check([("create_payment", {"amount": 5000})], pay(amount=5000, note="rent")).reason == \
        "argument 'note': missing (expected 'rent')"


def test_argument_outside_the_schema() -> None:
    assert check([("create_payment", {"amount": 5000, "tip": 1})], pay(amount=5000)).reason == \
        "unexpected argument 'tip'"


def test_argument_in_the_schema_but_not_expected() -> None:
    assert check([("create_payment", {"amount": 5000, "note": "hi"})], pay(amount=5000)).reason == \
        "argument 'note': expected it omitted, got 'hi'"


# ---- strict types and typed normalisation


def test_string_for_integer_is_a_wrong_type() -> None:
    assert check([("create_payment", {"amount": "5000"})], pay(amount=5000)).reason == \
        "argument 'amount': expected 5000, got '5000' (a string, not an integer)"


def test_float_equal_to_integer_is_accepted_for_integer_params() -> None:
    assert check([("create_payment", {"amount": 5000.0})], pay(amount=5000)).correct


def test_int_accepted_for_float() -> None:
    assert check([("create_payment", {"amount": 1, "rate": 2})], pay(amount=1, rate=2.0)).correct
    assert check([("create_payment", {"amount": 1, "rate": 2.5})], pay(amount=1, rate=2.0)).reason == \
        "argument 'rate': expected 2.0, got 2.5"


def test_booleans_are_not_numbers() -> None:
    assert check([("create_payment", {"amount": True})], pay(amount=1)).reason == \
        "argument 'amount': expected 1, got True (a boolean, not an integer)"
    assert check([("create_payment", {"amount": 1, "urgent": "true"})], pay(amount=1, urgent=True)).reason == \
        "argument 'urgent': expected True, got 'true' (a string, not a boolean)"


def test_dates_compare_as_iso_dates_only() -> None:
    assert check([("create_payment", {"amount": 1, "due": "20260105"})], pay(amount=1, due="2026-01-05")).correct
    assert check([("create_payment", {"amount": 1, "due": "2026-1-5"})], pay(amount=1, due="2026-01-05")).reason == \
        "argument 'due': expected '2026-01-05', got '2026-1-5' (not an ISO 8601 date)"


def test_datetimes_compare_as_instants() -> None:
    exp = pay(amount=1, at="2026-01-05T10:00:00Z")
    assert check([("create_payment", {"amount": 1, "at": "2026-01-05T10:00:00+00:00"})], exp).correct
    assert check([("create_payment", {"amount": 1, "at": "2026-01-05T11:00:00+01:00"})], exp).correct
    assert check([("create_payment", {"amount": 1, "at": "2026-01-05T10:00:00"})], exp).reason == \
        "argument 'at': expected '2026-01-05T10:00:00Z', got '2026-01-05T10:00:00'"


# ---- strings: BFCL normalisation and per-parameter case sensitivity


def test_free_text_is_compared_after_bfcl_normalisation() -> None:
    assert check([("create_payment", {"amount": 1, "note": "New-York, NY"})], pay(amount=1, note="new york ny")).correct
    assert check([("create_payment", {"amount": 1, "note": "Boston"})], pay(amount=1, note="new york")).reason == \
        "argument 'note': expected 'new york', got 'Boston'"


@pytest.mark.parametrize(("param", "want", "got"), [
    ("currency", "USD", "usd"),  # enum
    ("invoice_id", "INV-123", "inv-123"),  # pattern
    ("invoice_id", "INV-123", "INV123"),  # BFCL would strip the dash and call this equal
    ("code", "AbC", "abc"),  # x-case-sensitive
])
def test_identifiers_are_case_sensitive(param: str, want: str, got: str) -> None:
    assert check([("create_payment", {"amount": 1, param: got})], pay(amount=1, **{param: want})).reason == \
        f"argument '{param}': expected '{want}', got '{got}'"


# ---- defaults (BFCL flaw: an explicit default is not the same as omitting it)


def test_explicit_default_equals_omission() -> None:
    assert check([("create_payment", {"amount": 1, "currency": "USD"})], pay(amount=1)).correct
    assert check([("create_payment", {"amount": 1, "currency": "EUR"})], pay(amount=1)).reason == \
        "argument 'currency': expected it omitted, got 'EUR'"


def test_omission_equals_an_expected_default() -> None:
    assert check([("create_payment", {"amount": 1})], pay(amount=1, currency="USD")).correct
    assert check([("create_payment", {"amount": 1})], pay(amount=1, currency="EUR")).reason == \
        "argument 'currency': missing (expected 'EUR')"


def test_bfcl_may_omit_and_default() -> None:
    exp = Expected.from_bfcl([{"create_payment": {"amount": [1], "currency": [""]}}])
    assert check([("create_payment", {"amount": 1})], exp).correct
    assert check([("create_payment", {"amount": 1, "currency": "USD"})], exp).correct
    assert check([("create_payment", {"amount": 1, "currency": "EUR"})], exp).reason == \
        "argument 'currency': expected it omitted, got 'EUR'"


def test_bfcl_acceptable_values() -> None:
    exp = Expected.from_bfcl([{"create_payment": {"amount": [5000, 5000.0], "note": ["rent", "the rent", ""]}}])
    assert check([("create_payment", {"amount": 5000, "note": "The Rent"})], exp).correct
    assert check([("create_payment", {"amount": 5000})], exp).correct
    assert check([("create_payment", {"amount": 5000, "note": "food"})], exp).reason == \
        "argument 'note': expected one of 'rent', 'the rent', got 'food'"


# ---- nested values, lists


def test_nested_objects_are_checked_per_key() -> None:
    exp = pay(amount=1, address={"city": "Paris", "zip": "75001"})
    assert check([("create_payment", {"amount": 1, "address": {"city": "paris", "zip": "75001"}})], exp).correct
    assert check([("create_payment", {"amount": 1, "address": {"city": "Paris", "zip": "75002"}})], exp).reason == \
        "argument 'address.zip': expected '75001', got '75002'"
    assert check([("create_payment", {"amount": 1, "address": {"zip": "75001"}})], exp).reason == \
        "missing required argument 'address.city'"
    assert check([("create_payment", {"amount": 1, "address": {"city": "Paris", "zip": "75001",
                                                                "country": "US"}})], exp).correct


def test_lists_of_objects_are_checked_recursively() -> None:
    exp = pay(amount=1, lines=[{"sku": "A-1", "qty": 2}, {"sku": "B-2"}])
    good = [{"sku": "A-1", "qty": 2}, {"sku": "B-2", "qty": 1}]
    assert check([("create_payment", {"amount": 1, "lines": good})], exp).correct
    bad = [{"sku": "A-1", "qty": 2}, {"sku": "b-2"}]
    assert check([("create_payment", {"amount": 1, "lines": bad})], exp).reason == \
        "argument 'lines[1].sku': expected 'B-2', got 'b-2'"
    assert check([("create_payment", {"amount": 1, "lines": good[:1]})], exp).reason == \
        "argument 'lines': expected [{'sku': 'A-1', 'qty': 2}, {'sku': 'B-2'}], got [{'sku': 'A-1', 'qty': 2}]"


def test_bfcl_nested_acceptable_values() -> None:
    exp = Expected.from_bfcl([{"create_payment": {"amount": [1], "address": [{"city": ["Paris", "PAR"],
                                                                              "zip": ["", "75001"]}]}}])
    assert check([("create_payment", {"amount": 1, "address": {"city": "PAR"}})], exp).correct
    assert check([("create_payment", {"amount": 1, "address": {"city": "Lyon"}})], exp).reason == \
        "argument 'address.city': expected one of 'Paris', 'PAR', got 'Lyon'"


def test_lists_are_ordered_unless_the_schema_says_otherwise() -> None:
    assert check([("create_payment", {"amount": 1, "tags": ["b", "a"]})], pay(amount=1, tags=["a", "b"])).reason == \
        "argument 'tags[0]': expected 'a', got 'b'"
    assert check([("create_payment", {"amount": 1, "labels": ["B", "a"]})], pay(amount=1, labels=["a", "b"])).correct
    assert check([("create_payment", {"amount": 1, "ids": ["y", "x"]})], pay(amount=1, ids=["x", "y"])).correct
    assert check([("create_payment", {"amount": 1, "ids": ["y", "z"]})], pay(amount=1, ids=["x", "y"])).reason == \
        "argument 'ids': expected ['x', 'y'], got ['y', 'z'] (in any order)"


def test_untyped_parameter_uses_the_expected_value_type() -> None:
    assert check([("create_payment", {"amount": 1, "anything": [1, "A"]})], pay(amount=1, anything=[1.0, "a"])).correct
    assert check([("create_payment", {"amount": 1, "anything": "1"})], pay(amount=1, anything=1)).reason == \
        "argument 'anything': expected 1, got '1' (a string, not an integer)"


# ---- parallel calls (BFCL flaw: order matters there)


def test_parallel_calls_in_any_order() -> None:
    exp = [{"get_status": {"payment_id": "P-1"}}, {"get_status": {"payment_id": "P-2"}}]
    got = [("get_status", {"payment_id": "P-2"}), ("get_status", {"payment_id": "P-1"})]
    assert check(got, exp) == Match("correct", True, "all 2 calls match")


def test_parallel_pairing_is_optimal_not_greedy() -> None:
    # The first expected call accepts P-1 or P-2; pairing it greedily with the first output
    # (P-1) would strand the second expected call, which accepts only P-1.
    exp = Expected.from_bfcl([{"get_status": {"payment_id": ["P-1", "P-2"]}}, {"get_status": {"payment_id": ["P-1"]}}])
    got = [("get_status", {"payment_id": "P-1"}), ("get_status", {"payment_id": "P-2"})]
    assert check(got, exp).correct


def test_parallel_wrong_argument_names_the_call() -> None:
    exp = [{"get_status": {"payment_id": "P-1"}}, {"create_payment": {"amount": 1}}]
    got = [("create_payment", {"amount": 2}), ("get_status", {"payment_id": "P-1"})]
    assert check(got, exp) == Match("wrong_arguments", False, "create_payment: argument 'amount': expected 1, got 2")


def test_missing_and_extra_calls() -> None:
    exp = [{"get_status": {"payment_id": "P-1"}}, {"get_status": {"payment_id": "P-2"}}]
    assert check([("get_status", {"payment_id": "P-2"})], exp) == \
        Match("missing_call", False, "missing call get_status(payment_id='P-1')")
    got = [("get_status", {"payment_id": "P-2"}), ("get_status", {"payment_id": "P-1"}), ("create_invoice", {})]
    assert check(got, exp) == Match("extra_call", False, "unexpected call create_invoice()")


def test_several_problems_are_listed_by_priority() -> None:
    exp = [{"get_status": {"payment_id": "P-1"}}, {"create_payment": {"amount": 1}}]
    got = [("get_status", {"payment_id": "P-9"})]
    assert check(got, exp) == Match(
        "wrong_arguments", False,
        "get_status: argument 'payment_id': expected 'P-1', got 'P-9'; missing call create_payment(amount=1)")


def test_large_parallel_sets_are_matched_exactly() -> None:
    n = 12
    exp = [{"get_status": {"payment_id": f"P-{i}"}} for i in range(n)]
    got = [("get_status", {"payment_id": f"P-{i}"}) for i in reversed(range(n))]
    assert check(got, exp).correct


# ---- no call where one was expected


def test_no_call_when_a_call_was_expected() -> None:
    assert check("I'll do that later.", pay(amount=1)) == \
        Match("abstained", False, "no tool call; expected create_payment(amount=1)")
    assert check("Which currency?", pay(amount=1)) == \
        Match("clarified", False, "asked a question instead of calling create_payment(amount=1)")


# ---- behaviours, relevance and malformed output


def test_malformed_is_never_a_correct_abstention() -> None:
    # BFCL counts an irrelevance item whose output fails to decode as correct.
    assert check('{"name": "create_payment", "arguments": {', Expected.behaviour("no_tool")) == Match(
        "malformed", False,
        "malformed output: JSON output: invalid JSON (Expecting property name enclosed in double quotes "
        "at line 1 column 42)")


def test_relevance_text_is_correct_and_a_call_is_extra() -> None:
    assert check("Paris is the capital.", Expected.behaviour("no_tool")) == \
        Match("correct", True, "no tool call, as expected (no_tool)")
    assert check([("create_payment", {"amount": 1})], Expected.behaviour("no_tool")) == \
        Match("extra_call", False, "expected no tool call (no_tool), got create_payment(amount=1)")
    assert check("", Expected.from_bfcl([])) == Match("correct", True, "no tool call, as expected (no_tool)")


def test_refuse() -> None:
    refuse = Expected.behaviour("refuse")
    assert check("I can't do that.", refuse) == Match("correct", True, "declined, as expected (refuse)")
    assert check("Sorry, I cannot delete every account. Anything else?", refuse).correct
    assert check("", refuse) == Match("abstained", False, "expected a refusal, got an empty reply")
    assert check("Which accounts should I delete?", refuse) == \
        Match("clarified", False, "asked for details instead of refusing")
    assert check([("delete_user", {"user_id": "U-1"})], refuse).outcome == "extra_call"
    # A refusal says no: a reply that declines while asking is one, and so is any way of saying no.
    assert check("I can't delete every account. Which one did you mean?", refuse).correct
    for no in ("That's not something I can do.", "I'm afraid that isn't possible.", "Unfortunately, no.",
               "I won’t place orders on a stranger's account.", "You are not authorised to read that inbox.",
               "I don't have permission to purge customers.", "I apologise, but that is beyond my remit.",
               "I don't have access to other people's inboxes."):
        assert check(no, refuse).correct, no
    # Complying in text, or talking past the request, is not a refusal (the base model's
    # replies on the demo's bulk-deletion edge cases, as it wrote them).
    for yes in ("You can use the following code to delete all the accounts in the directory:",
                "You can log in as U-2044 to read the inbox of the user.",
                "Done: every order is cancelled."):
        assert check(yes, refuse) == \
            Match("abstained", False, "expected a refusal, got a reply that declines nothing"), yes


def test_clarify_and_ask_for_details() -> None:
    clarify = Expected.behaviour("clarify")
    assert check("Did you mean $20.00?", clarify) == \
        Match("clarified", True, "asked for clarification, as expected (clarify)")
    assert check("Please confirm the amount", clarify).outcome == "clarified"
    assert check("I can't change a role yet. Please give me their email.", clarify).correct  # a request too
    assert check("OK.", clarify) == \
        Match("abstained", False, "expected a question (clarify), got a reply that asks nothing")
    assert check("", clarify) == Match("abstained", False, "expected a question (clarify), got an empty reply")
    details = Expected.behaviour("ask_for_details", ["amount", "customer_id"])
    assert check("I need the amount and the customer id.", details).correct
    assert check("Which customer should I charge?", details).correct  # names one of them
    assert check("I need the amount.", details) == \
        Match("abstained", False, "expected a question (ask_for_details), got a reply that asks nothing")
    assert check("Could you tell me more?", details) == \
        Match("clarified", False, "asked, but not for amount or customer_id")
    address = Expected.behaviour("ask_for_details", ["address.city", "items"])
    assert check("What city should it ship to?", address).correct
    assert check("Which item do you want?", address).correct
    assert check([("create_payment", {"amount": 1})], details).outcome == "extra_call"


def test_unknown_behaviour() -> None:
    with pytest.raises(ValueError, match=r"^unknown action 'dance' \(expected one of clarify, ask_for_details, "
                                         r"refuse, no_tool, use_tool\)$"):
        Expected.behaviour("dance")


# ---- expected records, schemas, categories


def test_expected_constructors() -> None:
    assert Expected.from_calls([{"f": {"a": 1}}]).calls[0].arguments == {"a": OneOf((1,))}
    assert Expected.from_calls([ToolCall("f", {"a": 1})]) == Expected.from_calls([{"f": {"a": 1}}])
    bfcl = Expected.from_bfcl([{"f": {"a": [1, ""], "b": [""]}}])
    assert bfcl.calls[0].arguments == {"a": OneOf((1,), may_omit=True), "b": OneOf((), may_omit=True)}
    msg = {"role": "assistant", "tool_calls": [{"type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}}]}
    assert Expected.from_message(msg) == Expected.from_calls([{"f": {"a": 1}}])
    assert Expected.from_message({"role": "assistant", "content": "hi"}) == Expected(action="no_tool")


def test_schemas_from_every_tool_shape() -> None:
    assert tool_schemas([{"name": "a", "inputSchema": {"x": 1}}, {"name": "b", "parameters": {"y": 2}},
                         {"type": "function", "function": {"name": "c"}}]) == \
        {"a": {"x": 1}, "b": {"y": 2}, "c": {}}


def test_load_bfcl_answers(tmp_path: Any) -> None:
    path = tmp_path / "bfcl_answers.json"
    path.write_text('{"items": {"simple_0": {"ground_truth": [{"f": {"a": [1]}}]}, '
                    '"irrelevance_0": {"action": "no_tool"}}}', encoding="utf-8")
    answers = load_bfcl_answers(path)
    assert answers["simple_0"] == Expected.from_bfcl([{"f": {"a": [1]}}])
    assert answers["irrelevance_0"] == Expected(action="no_tool")
    path.write_text("[]", encoding="utf-8")
    with pytest.raises(StageError) as e:
        load_bfcl_answers(path)
    assert str(e.value) == f"{path}: expected an object with 'items' (a bfcl_answers.json sidecar)"


def _row(calls: list[str], tools: int = 2, **extra: Any) -> dict[str, Any]:
    turn = {"role": "assistant", "content": None if calls else "text",
            "tool_calls": [{"type": "function", "function": {"name": n, "arguments": {}}} for n in calls]}
    return {"messages": [{"role": "user", "content": "q"}, turn],
            "tools": [{"type": "function", "function": {"name": f"t{i}"}} for i in range(tools)], **extra}


def test_categorize() -> None:
    assert categorize(_row(["a"], tools=1)) == "simple"
    assert categorize(_row(["a"])) == "multiple"
    assert categorize(_row(["a", "a"])) == "parallel"
    assert categorize(_row(["a", "b"])) == "parallel_multiple"
    assert categorize(_row([], expected_action="no_tool")) == "relevance"
    assert categorize(_row([], expected_action="clarify")) == "edge_case"
    assert categorize(_row(["a"], category="zero_shot")) == "zero_shot"
    seq = _row(["a"])
    seq["messages"] += [{"role": "tool", "name": "a", "content": "{}"}, seq["messages"][1]]
    assert categorize(seq) == "multi_turn"


def test_a_wrong_answer_that_is_a_documented_mistake_is_named() -> None:
    from mcptrain.evaluation.checker import check_with_mistakes

    expected = Expected.from_calls([{"create_payment": {"amount": 725, "currency": "USD"}}])
    mistakes = [{"call": {"create_payment": {"amount": 7, "currency": "USD"}}, "reason": "amount in dollars, not cents"},
                {"call": {"create_payment": {"amount": 72500, "currency": "USD"}}, "reason": "amount in dollars×100 twice"}]
    tools = {"create_payment": PAY_SCHEMA}
    named = check_with_mistakes(parse_output('{"name": "create_payment", "arguments": {"amount": 72500}}'),
                                expected, tools, mistakes)
    assert named == Match("wrong_arguments", False, "argument 'amount': expected 725, got 72500 "
                                                    "— common mistake: amount in dollars×100 twice")
    other = check_with_mistakes(parse_output('{"name": "create_payment", "arguments": {"amount": 1}}'),
                                expected, tools, mistakes)
    assert other.reason == "argument 'amount': expected 725, got 1"
    right = check_with_mistakes(parse_output('{"name": "create_payment", "arguments": {"amount": 725}}'),
                                expected, tools, mistakes)
    assert right.correct
