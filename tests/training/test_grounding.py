"""Grounded identifiers: id parameters take only ids the conversation holds."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mcptrain.training.decision import TRIGGER, Decision
from mcptrain.training.grammar import ToolCallGrammar
from mcptrain.training.grounding import (
    content_words,
    conversation_text,
    ground_tools,
    identifier_regex,
    invented_values,
    require_stated,
    said_text,
    said_values,
    says_quantity,
    stated,
    stated_dates,
    used_values,
    user_text,
)
from mcptrain.training.predictor import LocalPredictor, hermes_calls
from tests.training.tiny import SYSTEM, make_row


def tool(name: str, properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"type": "function", "function": {"name": name, "description": name, "parameters": {
        "type": "object", "properties": properties, "required": required}}}


PAYMENT_ID = {"type": "string", "pattern": "^P-[0-9]+$"}
REFUND = tool("refund_payment", {"payment_id": PAYMENT_ID, "amount": {"type": "integer"}}, ["payment_id"])
NOTE = tool("add_note", {"text": {"type": "string"}, "payment_id": PAYMENT_ID}, ["text"])
ORDER = tool("create_order", {"customer_id": {"type": "string", "pattern": r"^C-\d+$"},
                              "items": {"type": "array", "items": {
                                  "type": "object", "properties": {"sku": {"type": "string", "pattern": "^SKU-[0-9]+$"}},
                                  "required": ["sku"]}},
                              "country": {"type": "string", "pattern": "^[A-Z]{2}$"}},
             ["customer_id", "items"])


def row_saying(text: str, tools: list[dict[str, Any]]) -> dict[str, Any]:
    return {"id": "x", "tools": tools, "messages": [
        {"role": "system", "content": SYSTEM}, {"role": "user", "content": text},
        {"role": "assistant", "content": "ok"}]}


def arguments(tools: list[dict[str, Any]], name: str) -> dict[str, Any]:
    found = [t["function"]["parameters"] for t in tools if t["function"]["name"] == name]
    assert found, f"{name} is not offered"
    return found[0]["properties"]  # type: ignore[no-any-return]


def test_only_patterns_that_require_a_digit_are_ids() -> None:
    assert identifier_regex("^P-[0-9]+$") is not None
    assert identifier_regex(r"^ORD-\d{3,}$") is not None
    assert identifier_regex("^[A-Z]{2}$") is None  # a country code: derived as often as copied
    assert identifier_regex("^(unclosed-[0-9]$") is None  # not a regex: left to the grammar
    regex = identifier_regex("^U-[0-9]+$")
    assert regex is not None
    assert [m.group(0) for m in regex.finditer("U-12, XU-13, U-14x, U-15-2, (U-16)")] == ["U-12", "U-16"]


def test_ids_are_narrowed_to_the_conversations() -> None:
    text = conversation_text(row_saying("Refund P-7 and P-12, not P-7 twice", [REFUND]))
    grounded = ground_tools([REFUND, NOTE], text)
    assert arguments(grounded, "refund_payment")["payment_id"] == {"type": "string", "enum": ["P-7", "P-12"]}
    assert arguments(grounded, "refund_payment")["amount"] == {"type": "integer"}
    assert REFUND["function"]["parameters"]["properties"]["payment_id"] == PAYMENT_ID  # not modified


def test_a_tool_needing_an_absent_id_is_not_offered() -> None:
    grounded = ground_tools([REFUND, NOTE, ORDER], conversation_text(row_saying("Refund the customer", [REFUND])))
    assert [t["function"]["name"] for t in grounded] == ["add_note"]
    assert "payment_id" not in arguments(grounded, "add_note")  # optional and absent: dropped
    assert ground_tools([REFUND], "nothing here") == []


def test_nested_ids_and_non_id_patterns() -> None:
    grounded = ground_tools([ORDER], "C-4 wants SKU-10 and SKU-11 shipped to the UK")
    props = arguments(grounded, "create_order")
    assert props["customer_id"]["enum"] == ["C-4"]
    assert props["items"]["items"]["properties"]["sku"]["enum"] == ["SKU-10", "SKU-11"]
    assert props["country"] == {"type": "string", "pattern": "^[A-Z]{2}$"}  # not an id
    # No sku anywhere: the list can only be empty (it has no minItems); no customer: no call.
    assert arguments(ground_tools([ORDER], "C-4 wants a lamp"), "create_order")["items"]["maxItems"] == 0
    assert ground_tools([ORDER], "someone wants SKU-10") == []


def test_ids_from_earlier_calls_and_tool_results_count() -> None:
    row = row_saying("Refund my last payment", [REFUND])
    row["messages"][2:] = [
        {"role": "assistant", "content": None, "tool_calls": [
            {"type": "function", "function": {"name": "list_payments", "arguments": {"customer_id": "C-9"}}}]},
        {"role": "tool", "name": "list_payments", "content": json.dumps([{"payment_id": "P-31"}])}]
    text = conversation_text(row)  # a later step's prompt: the history up to the tool result
    assert "C-9" in text and "P-31" in text
    assert "P-31" not in conversation_text({**row, "messages": [*row["messages"], {"role": "assistant", "content": "ok"}]})
    assert arguments(ground_tools([REFUND], text), "refund_payment")["payment_id"]["enum"] == ["P-31"]


def test_the_grounded_grammar_admits_every_expected_call_of_the_demos_train_and_validation(
        tiny_tokenizer: Any, demo_rows: list[dict[str, Any]]) -> None:
    """The property grounding relies on, on the data it is chosen on: every id an expected
    call uses occurs in the conversation before it."""
    grammar = ToolCallGrammar(tiny_tokenizer, [tiny_tokenizer.convert_tokens_to_ids("<|im_end|>")])
    stop = grammar.info.stop_token_ids[0]
    checked = 0
    for row, before, calls in expected_calls(demo_rows):
        matcher = grammar.matcher(ground_tools(row["tools"], conversation_text(before)))
        text = hermes_calls(calls)
        assert matcher.accept_string(text) and matcher.accept_token(stop), (row["id"], text)
        checked += 1
    assert checked > 400


def expected_calls(rows: list[dict[str, Any]]) -> Iterator[tuple[dict[str, Any], dict[str, Any], list[Any]]]:
    """(row, the row up to the turn, that turn's (name, arguments) calls) for every calling
    assistant turn of the train and validation rows: what grounding is chosen on."""
    for row in rows:
        if row["split"] not in ("train", "validation"):
            continue
        for i, message in enumerate(row["messages"]):
            if message.get("role") == "assistant" and message.get("tool_calls"):
                calls = [(c["function"]["name"], c["function"]["arguments"]) for c in message["tool_calls"]]
                yield row, {**row, "messages": row["messages"][:i]}, calls


def test_the_grounded_grammar_refuses_an_invented_id(tiny_tokenizer: Any) -> None:
    grammar = ToolCallGrammar(tiny_tokenizer, [tiny_tokenizer.convert_tokens_to_ids("<|im_end|>")])
    tools = ground_tools([REFUND], "Refund P-7 please")
    assert grammar.matcher(tools).accept_string(hermes_calls([("refund_payment", {"payment_id": "P-7"})]))
    assert not grammar.matcher(tools).accept_string(hermes_calls([("refund_payment", {"payment_id": "P-8"})]))
    nothing = grammar.matcher(ground_tools([REFUND], "Refund the customer"))
    assert nothing.accept_string("Which payment should I refund?")
    assert not grammar.matcher(ground_tools([REFUND], "Refund the customer")).accept_string(TRIGGER)


@pytest.fixture(scope="module")
def predictor(tiny_model: Path) -> LocalPredictor:
    return LocalPredictor(str(tiny_model), batch_size=4, max_new_tokens=24, precision="fp32",
                          constrained=True, calibrated=False)


def test_a_row_with_nothing_to_call_is_answered_in_text_even_when_the_decision_says_call(
        predictor: LocalPredictor) -> None:
    """A threshold of 0 forces every turn to open a call, except those whose every tool
    needs an id the conversation does not hold."""
    rows = [make_row(i, kind=2) for i in range(2)]  # "Cancel order ORD-10x please"
    absent = make_row(5, kind=2)
    absent["messages"][1]["content"] = "Cancel my order please"
    patterned = [{**t, "function": {**t["function"], "parameters": {
        **t["function"]["parameters"], "properties": {"order_id": {"type": "string", "pattern": "^ORD-[0-9]+$"}}}}}
        if t["function"]["name"] == "cancel_order" else t for t in rows[0]["tools"]]
    only_cancel = [t for t in patterned if t["function"]["name"] == "cancel_order"]
    for r in (*rows, absent):
        r["tools"] = only_cancel
    prompts = [{**r, "messages": r["messages"][:2]} for r in (*rows, absent)]
    predictor.decision, predictor._trigger = Decision(TRIGGER, 0.0), predictor.trigger_id(TRIGGER)
    try:
        outputs = predictor.predict(prompts)
    finally:
        predictor.decision = None
    trigger = predictor.trigger_id(TRIGGER)

    def first(output: str) -> int:
        return int(predictor.tokenizer(output, add_special_tokens=False)["input_ids"][0])

    assert [first(o) == trigger for o in outputs] == [True, True, False]
    assert TRIGGER not in outputs[2]  # banned for the whole turn
    # Without grounding the same threshold opens a call there too (with an id of its own).
    predictor.ground_identifiers = False
    predictor.decision, predictor._trigger = Decision(TRIGGER, 0.0), predictor.trigger_id(TRIGGER)
    try:
        assert first(predictor.predict([prompts[2]])[0]) == trigger
    finally:
        predictor.ground_identifiers = True
        predictor.decision = None



SHIP = tool("create_order", {"sku": {"type": "string"},
                             "shipping": {"type": "string", "enum": ["standard", "express", "overnight"]},
                             "reason": {"type": "string", "enum": ["left_company", "security_incident"]},
                             "note": {"type": "string"}}, ["sku"])


def required_of(tools: list[dict[str, Any]]) -> list[str]:
    return list(tools[0]["function"]["parameters"]["required"])


def test_a_stated_value_is_said_in_words() -> None:
    assert stated("express", "Send it EXPRESS, please")
    assert stated("left_company", "they left the company") is False  # not the words in order
    assert stated("left_company", "Maria left company last week")
    assert stated("left_company", "reason: left-company")
    assert not stated("open", "reopened")  # not inside a longer word
    assert not stated("", "anything")
    assert stated("$", "charge $50") and stated("€", "42€ please")  # a symbol may touch its number
    assert not stated("mail", "check the email")


def test_stated_enum_values_make_an_optional_parameter_required() -> None:
    assert required_of(require_stated([SHIP], "Ship SKU-1 overnight")) == ["sku", "shipping"]
    assert required_of(require_stated([SHIP], "Ship SKU-1, she left company")) == ["sku", "reason"]
    unchanged = require_stated([SHIP], "Ship SKU-1 whenever")
    assert unchanged[0] is SHIP  # nothing stated: the very same tool
    assert SHIP["function"]["parameters"]["required"] == ["sku"]  # the original is not modified


PAY = tool("create_payment", {"amount": {"type": "integer"},
                              "customer_id": {"type": "string", "pattern": "^C-[0-9]+$"},
                              "invoice_id": {"type": "string", "pattern": "^INV-[0-9]+$"}}, ["amount"])
MOVE = tool("transfer", {"from_account": {"type": "string", "pattern": "^ACC-[0-9]+$"},
                         "to_account": {"type": "string", "pattern": "^ACC-[0-9]+$"}}, ["from_account"])


def test_a_stated_id_makes_an_optional_id_parameter_required() -> None:
    assert required_of(require_stated([PAY], "Pay INV-123 for C-1042, 10 dollars")) == [
        "amount", "customer_id", "invoice_id"]
    assert required_of(require_stated([PAY], "Pay invoice INV-123")) == ["amount", "invoice_id"]
    assert require_stated([PAY], "Pay 10 dollars")[0] is PAY
    # An id a required parameter could take asks nothing of an optional one of the same kind.
    assert require_stated([MOVE], "Show me ACC-1")[0] is MOVE
    # An id an earlier call of another tool took is not stated for this one.
    used = {"get_invoice": {"invoice_id": {"INV-123"}}}
    assert required_of(require_stated([PAY], "Pay INV-123", used)) == ["amount"]
    assert required_of(require_stated([PAY], "Pay INV-123", {"create_payment": {"invoice_id": {"INV-123"}}})) == [
        "amount", "invoice_id"]  # the same tool called again keeps its own


def test_calendar_dates_are_read_in_the_ways_users_write_them() -> None:
    assert stated_dates("Since 2025-11-01, and from October 3, 2025 to the 15th of January 2026") == [
        "2025-11-01", "2025-10-03", "2026-01-15"]
    assert stated_dates("payable by 12 June 2026, or January 5th 2026, or Sept 9") == [
        "2026-06-12", "2026-01-05", "--09-09"]
    assert stated_dates("Call me on May 3, logs after 2025-11-01T09:00:00Z") == ["--05-03", "2025-11-01"]
    # A date written with and without its year is one date.
    assert stated_dates("June 3, or rather June 3, 2026") == ["2026-06-03"]
    # Not calendar dates: "may" the verb, a year alone, relative dates, a date inside an id,
    # a day the calendar lacks, a time or version before a month.
    assert stated_dates("You may 2 things in 2025, last week, ORD-2025-11-01, 3:30 today") == []
    assert stated_dates("February 30, 2026; 2025-13-45; at 9:30 March; v1.12 June") == []
    # Four digits after a date are a year only when they read as one.
    assert stated_dates("Ship on June 5 1200 units") == ["--06-05"]


LISTING = tool("list_payments", {"customer_id": {"type": "string", "pattern": r"^C-\d+$"},
                                 "since": {"type": "string", "format": "date"}}, [])
SPAN = tool("report", {"from": {"type": "string", "format": "date"}, "to": {"type": "string", "format": "date-time"}}, [])
DUE = tool("remind", {"on": {"type": "string", "format": "date"}, "until": {"type": "string", "format": "date"}}, ["on"])


def test_a_stated_date_makes_an_optional_date_parameter_required() -> None:
    assert required_of(require_stated([LISTING], "C-1's payments since 12 June 2026")) == ["customer_id", "since"]
    assert required_of(require_stated([LISTING], "C-1's payments since last week")) == ["customer_id"]
    # As many dates as the tool has date parameters: one date for from/to says which of them nothing.
    assert require_stated([SPAN], "a report from 2026-01-01")[0] is SPAN
    assert required_of(require_stated([SPAN], "a report from 2026-01-01 to 2026-02-01")) == ["from", "to"]
    # A required date parameter takes the first date.
    assert required_of(require_stated([DUE], "remind me on 2026-01-01")) == ["on"]
    assert required_of(require_stated([DUE], "remind me on 2026-01-01 until 2026-02-01")) == ["on", "until"]
    # A date an earlier call of another tool took is not stated for this one.
    used = {"list_orders": {"since": {"2026-06-12"}}}
    assert required_of(require_stated([LISTING], "C-1's orders and payments since 12 June 2026", used)) == [
        "customer_id"]


def test_a_date_written_with_its_year_is_the_value() -> None:
    props = arguments(require_stated([LISTING], "C-1's payments since 12 June 2026"), "list_payments")
    assert props["since"] == {"type": "string", "enum": ["2026-06-12"]}
    # Without a year the model writes the year; a date-time's time is the model's too.
    assert arguments(require_stated([LISTING], "C-1's payments since June 12"), "list_payments")["since"] == {
        "type": "string", "format": "date"}
    props = arguments(require_stated([SPAN], "a report from 2026-01-01 to February 1, 2026"), "report")
    assert props["from"]["enum"] == ["2026-01-01", "2026-02-01"] and props["to"]["format"] == "date-time"
    # A required date parameter takes one of them too ("March 3, 2026" had been written
    # 3032-03-03); one date for two date parameters says nothing; a pattern is the model's;
    # an enum keeps its own.
    assert arguments(require_stated([DUE], "remind me on 2026-01-01 until 2026-02-01"), "remind")["on"] == {
        "type": "string", "enum": ["2026-01-01", "2026-02-01"]}
    callback = tool("schedule_callback", {"date": {"type": "string", "format": "date"}}, ["date"])
    narrowed = require_stated([callback], "Call C-215 back on March 3, 2026 in the afternoon")
    assert arguments(narrowed, "schedule_callback")["date"] == {"type": "string", "enum": ["2026-03-03"]}
    assert required_of(narrowed) == ["date"]
    assert require_stated([DUE], "remind me on 2026-01-01")[0] is DUE
    patterned = tool("log", {"day": {"type": "string", "format": "date", "pattern": r"^\d{4}-\d{2}-\d{2}$"}}, [])
    assert "enum" not in arguments(require_stated([patterned], "the log of 2026-01-01"), "log")["day"]
    listed = tool("book", {"day": {"type": "string", "format": "date", "enum": ["2026-01-01", "2026-01-08"]}}, [])
    assert arguments(require_stated([listed], "book 2026-03-05 or 8 January 2026"), "book")["day"]["enum"] == [
        "2026-01-08"]


def test_the_stated_grammar_refuses_leaving_a_stated_value_out(tiny_tokenizer: Any) -> None:
    grammar = ToolCallGrammar(tiny_tokenizer, [tiny_tokenizer.convert_tokens_to_ids("<|im_end|>")])
    tools = require_stated([SHIP], "Ship SKU-1 overnight")
    without = hermes_calls([("create_order", {"sku": "SKU-1"})])
    assert grammar.matcher([SHIP]).accept_string(without)
    assert not grammar.matcher(tools).accept_string(without)
    # Which value is still the model's: the enum is left whole (keys in the grammar's sorted order).
    assert grammar.matcher(tools).accept_string(hermes_calls([("create_order", {"shipping": "express", "sku": "SKU-1"})]))


def test_user_text_is_only_what_the_user_said() -> None:
    row = {"id": "x", "tools": [SHIP], "messages": [
        {"role": "system", "content": "Offer express shipping"}, {"role": "user", "content": "Ship SKU-1"},
        {"role": "assistant", "content": "ok"}]}
    assert user_text(row) == "Ship SKU-1"
    assert required_of(require_stated([SHIP], user_text(row))) == ["sku"]  # the system turn states nothing


USER = tool("create_user", {"email": {"type": "string", "format": "email"}, "name": {"type": "string"},
                            "ref": {"type": "string", "format": "uuid"}, "due": {"type": "string", "format": "date"}},
            ["email", "name"])


def test_emails_and_uuids_are_identifiers_dates_are_not() -> None:
    text = "Add Kofi Mensah (Kofi.Mensah@acme.io). Ref 123e4567-e89b-12d3-a456-426614174000, due next Tuesday."
    props = arguments(ground_tools([USER], text), "create_user")
    assert props["email"] == {"type": "string", "enum": ["Kofi.Mensah@acme.io"]}  # copied as written
    assert props["ref"]["enum"] == ["123e4567-e89b-12d3-a456-426614174000"]
    assert props["due"] == {"type": "string", "format": "date"}  # derived from words: left alone
    # No address in the conversation: a tool that needs one is not offered (ask for it instead).
    assert ground_tools([USER], "Add Priya Raman as an editor") == []
    # Not an address: a version string, a handle, an address inside a longer token.
    assert ground_tools([USER], "v1.2@build, @priya, mail:a@b") == []
    # An apostrophe belongs to the address inside it, not to a quote around it.
    assert arguments(ground_tools([USER], "Add sam.o'neill@acme.io"), "create_user")["email"]["enum"] == [
        "sam.o'neill@acme.io"]
    assert arguments(ground_tools([USER], "Add 'bob@acme.io' please"), "create_user")["email"]["enum"] == [
        "bob@acme.io"]


def test_stated_values_reject_only_calls_that_leave_a_stated_value_out(
        tiny_tokenizer: Any, demo_rows: list[dict[str, Any]]) -> None:
    """On the demo's train and validation rows, every expected call the stated-values
    grammar refuses is one that omits an optional enum parameter whose value the user
    said (the rule's known exception), and those are rare."""
    grammar = ToolCallGrammar(tiny_tokenizer, [tiny_tokenizer.convert_tokens_to_ids("<|im_end|>")])
    stop = grammar.info.stop_token_ids[0]
    checked, refused = 0, []
    for row, before, calls in expected_calls(demo_rows):
        tools = ground_tools(require_stated(row["tools"], user_text(before)), conversation_text(before))
        matcher = grammar.matcher(tools)
        checked += 1
        if matcher.accept_string(hermes_calls(calls)) and matcher.accept_token(stop):
            continue
        refused.append(row["id"])
        said = user_text(before)
        schemas = {t["function"]["name"]: t["function"]["parameters"] for t in row["tools"]}
        omitted = [(name, p) for name, args in calls for p, sub in schemas[name]["properties"].items()
                   if p not in args and p not in schemas[name].get("required", [])
                   and any(stated(v, said) for v in sub.get("enum") or [])]
        assert omitted, (row["id"], calls)
    assert checked > 400 and len(refused) <= checked // 50, refused


SAID = {"create_order": {
    "shipping": {"standard": ["regular"], "express": ["fast", "two-day"], "overnight": ["next day"]},
    "note": {"gift": ["present", "birthday"]},
    "sku": {"SKU-1": []},
    "missing": {"x": ["y"]},  # not a parameter of the tool: ignored
}}


def test_said_values_narrow_a_vocabulary_parameter_to_what_the_user_says() -> None:
    props = arguments(said_values([SHIP], SAID, "Ship SKU-1, next day please"), "create_order")
    assert props["shipping"] == {"type": "string", "enum": ["overnight"]}  # said as a synonym
    assert "note" not in props  # optional, nothing said of it: left out
    assert props["reason"] == SHIP["function"]["parameters"]["properties"]["reason"]  # no vocabulary: the model's
    assert props["sku"]["enum"] == ["SKU-1"]
    assert required_of(said_values([SHIP], SAID, "Ship SKU-1, next day please")) == ["sku", "shipping"]
    both = arguments(said_values([SHIP], SAID, "Regular or two-day? Whichever; it's a present"), "create_order")
    assert both["shipping"]["enum"] == ["standard", "express"] and both["note"]["enum"] == ["gift"]
    # A value the schema's enum does not allow is never offered; the original is not modified.
    odd = {"create_order": {"shipping": {"teleport": ["beam it"]}}}
    assert "shipping" not in arguments(said_values([SHIP], odd, "beam it over"), "create_order")
    assert "note" in SHIP["function"]["parameters"]["properties"]
    assert said_values([SHIP], None, "anything") == [SHIP] and said_values([SHIP], {}, "x")[0] is SHIP


def test_said_values_leave_a_required_parameter_nothing_is_said_of() -> None:
    need = tool("reset_password", {"delivery": {"type": "string", "enum": ["email", "sms"]}}, ["delivery"])
    terms = {"reset_password": {"delivery": {"sms": ["text message"], "email": ["mail"]}}}
    assert arguments(said_values([need], terms, "reset it"), "reset_password")["delivery"]["enum"] == ["email", "sms"]
    assert arguments(said_values([need], terms, "reset it by text message"),
                     "reset_password")["delivery"]["enum"] == ["sms"]


def test_unsaid_required_leaves_out_a_tool_whose_required_value_nobody_said() -> None:
    """`unsaid_required` (evaluation.unsaid_required): a required vocabulary parameter of
    which the conversation says nothing takes the tool out of the offer, as a missing id does."""
    need = tool("reset_password", {"delivery": {"type": "string", "enum": ["email", "sms"]}}, ["delivery"])
    other = tool("find_user", {"name": {"type": "string"}}, ["name"])
    terms = {"reset_password": {"delivery": {"sms": ["text message"], "email": ["mail"]}}}
    assert [t["function"]["name"] for t in said_values([need, other], terms, "reset it", unsaid_required=True)] == \
        ["find_user"]
    kept = said_values([need, other], terms, "reset it by text message", unsaid_required=True)
    assert arguments(kept, "reset_password")["delivery"]["enum"] == ["sms"]
    # Said earlier in the conversation (a tool result, an earlier call): the tool stays offered.
    assert len(said_values([need], terms, "reset it", "delivery preference: email", unsaid_required=True)) == 1
    # A value an earlier call of another tool took is not said for this one: nothing is left for it.
    used = {"notify": {"delivery": {"sms"}}}
    assert said_values([need], terms, "text message them, then reset it", used=used, unsaid_required=True) == []
    assert len(said_values([need], terms, "text message them, then reset it", used=used)) == 1  # off: offered


def test_the_said_grammar_takes_only_the_said_value(tiny_tokenizer: Any) -> None:
    grammar = ToolCallGrammar(tiny_tokenizer, [tiny_tokenizer.convert_tokens_to_ids("<|im_end|>")])
    tools = said_values([SHIP], SAID, "Ship SKU-1 the fast way")
    assert grammar.matcher(tools).accept_string(hermes_calls([("create_order", {"shipping": "express", "sku": "SKU-1"})]))
    for wrong in ({"shipping": "standard", "sku": "SKU-1"}, {"sku": "SKU-1"},
                  {"note": "gift", "shipping": "express", "sku": "SKU-1"}):
        assert not grammar.matcher(tools).accept_string(hermes_calls([("create_order", wrong)])), wrong


def test_the_demos_rows_carry_their_offered_tools_canonical_values(demo_rows: list[dict[str, Any]]) -> None:
    payment = next(r for r in demo_rows if r["service"] == "payment-service" and r["services"] == ["payment-service"])
    assert "billed twice" in payment["canonical_values"]["refund_payment"]["reason"]["duplicate"]
    # Train and validation rows keep the values of the zero-shot tools they no longer offer.
    zero_shot = {t for r in demo_rows if r["split"] == "zero_shot" for t in r["target_tools"]}
    for row in demo_rows:
        offered = {t["function"]["name"] for t in row["tools"]}
        extra = set(row["canonical_values"]) - offered
        assert not extra or (row["split"] in ("train", "validation") and extra <= zero_shot), (row["id"], extra)
    spanning = [r for r in demo_rows if r["service"] == "order-service" and "payment-service" in r["services"]]
    assert spanning and all("refund_payment" in r["canonical_values"] for r in spanning)


def test_said_values_read_stems_and_leave_what_only_the_conversation_says() -> None:
    ticket = tool("update_ticket", {"ticket_id": {"type": "string"},
                                    "status": {"type": "string", "enum": ["open", "closed", "pending"]}}, ["ticket_id"])
    terms = {"update_ticket": {"status": {"closed": ["done"], "pending": ["on hold"]}}}
    # "Close" says "closed"; "open", in the enum but not in the vocabulary, counts as itself.
    assert arguments(said_values([ticket], terms, "Close T-1"), "update_ticket")["status"]["enum"] == ["closed"]
    assert arguments(said_values([ticket], terms, "reopen? no, open T-1"), "update_ticket")["status"]["enum"] == ["open"]
    # Said only by a tool result: neither narrowed nor dropped, the model's to choose.
    row = {"id": "x", "tools": [ticket], "messages": [
        {"role": "system", "content": "Tickets may be closed."}, {"role": "user", "content": "Bump T-1"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"type": "function", "function": {"name": "get_ticket", "arguments": {"ticket_id": "T-1"}}}]},
        {"role": "tool", "name": "get_ticket", "content": '{"status": "pending"}'}]}
    assert "closed" not in said_text(row) and "pending" in said_text(row)  # the system turn is not said
    left = arguments(said_values([ticket], terms, user_text(row), said_text(row)), "update_ticket")
    assert left["status"] == ticket["function"]["parameters"]["properties"]["status"]
    assert "status" not in arguments(said_values([ticket], terms, user_text(row)), "update_ticket")


def test_said_values_refuse_few_of_the_demos_expected_calls(
        tiny_tokenizer: Any, demo_rows: list[dict[str, Any]]) -> None:
    """The property the rule relies on, on the data it is chosen on: an expected call of
    the demo's train and validation rows gives a vocabulary parameter a value the
    conversation says, and leaves out one it says nothing of. Where the vocabulary lacks
    the user's words ("the card was stolen" for `fraudulent`) the grammar refuses the
    call; every refusal is such a parameter, and they are a small share."""
    grammar = ToolCallGrammar(tiny_tokenizer, [tiny_tokenizer.convert_tokens_to_ids("<|im_end|>")])
    stop = grammar.info.stop_token_ids[0]
    covered, refused = 0, []
    for row, before, calls in expected_calls(demo_rows):
        terms = row["canonical_values"]
        if not any(p in terms.get(name, {}) for name, _ in calls for p in
                   next(t["function"]["parameters"]["properties"] for t in row["tools"] if t["function"]["name"] == name)):
            continue
        covered += 1
        tools = said_values(row["tools"], terms, user_text(before), said_text(before))
        matcher = grammar.matcher(tools)
        if not (matcher.accept_string(hermes_calls(calls)) and matcher.accept_token(stop)):
            # The same call is admitted without the rule: only a vocabulary parameter refused it.
            plain = grammar.matcher(row["tools"])
            assert plain.accept_string(hermes_calls(calls)) and plain.accept_token(stop), row["id"]
            refused.append(row["id"])
    assert covered > 200 and len(refused) <= covered // 10, (covered, refused)


def test_said_values_split_digits_from_letters_and_keep_open_schemas_closed_only_when_they_are() -> None:
    slot = tool("schedule", {"slot": {"type": "string", "enum": ["morning", "afternoon"]}}, [])
    terms = {"schedule": {"slot": {"afternoon": ["pm"], "morning": ["am"]}}}
    assert arguments(said_values([slot], terms, "call at 3pm"), "schedule")["slot"]["enum"] == ["afternoon"]
    # Left out when nothing is said, unless the schema admits extra keys (it would come back unconstrained).
    assert "slot" not in arguments(said_values([slot], terms, "call them"), "schedule")
    open_schema = tool("schedule", {"slot": {"type": "string"}}, [])
    open_schema["function"]["parameters"]["additionalProperties"] = True
    assert "slot" in arguments(said_values([open_schema], terms, "call them"), "schedule")
    # Terms that list no value the schema allows leave the parameter alone.
    numbered = tool("pick", {"n": {"enum": [1, 2]}}, [])
    assert "n" in arguments(said_values([numbered], {"pick": {"n": {"1": ["one"]}}}, "pick one"), "pick")


ADDRESS = {"type": "object", "properties": {
    "line1": {"type": "string"}, "city": {"type": "string"},
    "country": {"type": "string", "pattern": "^[A-Z]{2}$"}}, "required": ["line1", "city", "country"]}
SHIP_TO = {"type": "object", "properties": {"order_id": {"type": "string", "pattern": "^ORD-[0-9]+$"},
                                            "address": ADDRESS}, "required": ["order_id", "address"]}


def invented(parameters: dict[str, Any], arguments: dict[str, Any], text: str) -> list[str]:
    return invented_values(parameters, arguments, content_words(text), quantities=says_quantity(text))


def test_a_value_sharing_no_word_with_the_conversation_is_invented() -> None:
    said = "Ship ORD-2301 to 10 Main Street"
    call = {"order_id": "ORD-2301", "address": {"line1": "10 Main Street", "city": "New York", "country": "US"}}
    assert invented(SHIP_TO, call, said) == ["address.city"]  # "US": a code, derived as often as copied
    assert invented(SHIP_TO, call, said + ", New York") == []
    # Stems and case: "streets" says "Street"; stopwords say nothing ("the office").
    note = {"type": "object", "properties": {"text": {"type": "string"}}}
    assert invented(note, {"text": "Main streets"}, "the main street") == []
    assert invented(note, {"text": "the office"}, "send it to the house") == ["text"]
    # Single letters are no words: "What's" gives no "s" to a made-up spelling.
    assert invented(note, {"text": "A-M-E-R-S"}, "What's the difference between editor and viewer?") == ["text"]
    # Scripts without spaces are read by character.
    assert invented(note, {"text": "上海, 中国"}, "我想知道上海目前的天气状况") == []
    assert invented(note, {"text": "北京市朝阳区"}, "我想知道上海目前的天气状况") == ["text"]


def test_values_a_schema_shapes_or_a_model_derives_are_not_invented() -> None:
    text = "Remind me at 5 in the afternoon about it"
    shaped = {"type": "object", "properties": {
        "kind": {"type": "string", "enum": ["reminder", "meeting"]},
        "when": {"type": "string", "format": "date-time"},
        "ref": {"type": "string", "pattern": "^R-[0-9]+$"},
        "tz": {"type": "string"}, "time": {"type": "string"}, "count": {"type": "integer"}}}
    call = {"kind": "meeting", "when": "2026-12-05T17:00:00", "ref": "R-1", "tz": "CET", "time": "17:00", "count": 3}
    assert invented(shaped, call, text) == []
    assert invented(shaped, {"tz": "Europe/Berlin"}, text) == ["tz"]  # over four characters: a made-up zone
    assert invented(shaped, {"tz": "Europe/Berlin", "unknown": "Zanzibar"}, text) == ["tz"]  # not in the schema


def test_a_number_date_or_time_is_invented_when_the_conversation_gives_none() -> None:
    pay = {"type": "object", "properties": {
        "amount": {"type": "integer", "minimum": 1}, "currency": {"type": "string", "enum": ["USD", "EUR"]},
        "since": {"type": "string", "format": "date"}, "at": {"type": "string"}, "rush": {"type": "boolean"},
        "volume": {"type": "integer", "description": "0 (mute) to 100 (full), default 50"}}}
    chit_chat = "thanks, that's all for today"
    assert invented(pay, {"amount": 10000, "currency": "USD"}, "thanks, that's all") == ["amount"]
    assert invented(pay, {"since": "2022-01-01", "rush": True}, "how are my orders doing?") == ["since"]
    assert invented(pay, {"at": "14:00"}, "book it, please") == ["at"]
    assert invented(pay, {"amount": 12.5}, "pay the gardener") == ["amount"]
    # Something to derive it from: a digit anywhere, a word for a number, a date or a time.
    assert invented(pay, {"amount": 10000}, chit_chat) == []  # "today"
    assert invented(pay, {"amount": 2500}, "pay twenty-five dollars") == []
    assert invented(pay, {"since": "2026-11-28"}, "orders from last week") == []
    assert invented(pay, {"amount": 10000}, "charge C-1 for invoice 7") == []
    # A code's digits are no number: "ORD-2750" says nothing of a date.
    assert invented(pay, {"since": "2022-01-01"}, "Move ORD-2750's delivery somewhere else") == ["since"]
    assert invented(pay, {"amount": 10000}, "charge C-1 for INV-7") == ["amount"]
    assert invented(pay, {"at": "15:00"}, "call C-12 back at 3pm") == []
    # The schema writes the number itself (a default, a range), or the conversation is not English.
    assert invented(pay, {"volume": 50}, "play the song") == []
    assert invented(pay, {"volume": 100.0}, "play the song") == []
    assert invented(pay, {"volume": 70}, "play the song") == ["volume"]
    assert invented(pay, {"amount": 500}, "bezahle die Rechnung für Müller") == []
    # An enum, a boolean or a value with letters is not a quantity.
    assert invented(pay, {"currency": "EUR", "rush": False}, "hello") == []


def test_no_expected_call_of_the_demos_train_and_validation_invents_a_value(demo_rows: list[dict[str, Any]]) -> None:
    """The property the rule relies on, on the data it is chosen on."""
    checked = 0
    for row, before, calls in expected_calls(demo_rows):
        schemas = {t["function"]["name"]: t["function"]["parameters"] for t in row["tools"]}
        text = conversation_text(before)
        words, quantities = content_words(text), says_quantity(text)
        for name, args in calls:
            assert invented_values(schemas[name], args, words, quantities=quantities) == [], (row["id"], name, args)
            checked += 1
    assert checked > 500


def test_a_call_with_an_invented_value_is_decoded_again_as_text(
        predictor: LocalPredictor, monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows whose call makes up a value go through decoding once more, text only; the
    others keep their first output."""
    weather = [t for t in make_row(0)["tools"] if t["function"]["name"] == "get_weather"]
    prompts = [{**make_row(i, kind=0), "tools": weather} for i in range(3)]
    for r in prompts:
        r["messages"] = r["messages"][:2]
    prompts[1]["messages"][1]["content"] = "hello there, how are things?"
    calls: list[bool] = []

    def fake_generate(shared, prefix_cache, ids, tools, adjust, base, text_only=False, starts=None, named=None):  # type: ignore[no-untyped-def]
        """The city the prompt names, or one of the model's own."""
        calls.append(text_only)
        if text_only:
            return ["Which city?"] * len(ids)
        cities = [re.search(r"weather in (\w+)", predictor.tokenizer.decode(p)) for p in ids]
        return [hermes_calls([("get_weather", {"city": c.group(1) if c else "Reykjavik"})]) for c in cities]

    monkeypatch.setattr(predictor, "_generate", fake_generate)
    out = predictor.predict(prompts)
    assert out[1] == "Which city?" and calls == [False, True]
    assert [o.startswith(TRIGGER) for o in out] == [True, False, True]
    assert [predictor.invents(r, o) for r, o in zip(prompts, out, strict=True)] == [False, False, False]
    predictor.invented_values = False
    try:
        calls.clear()
        assert predictor.predict(prompts)[1].startswith(TRIGGER) and calls == [False]
    finally:
        predictor.invented_values = True


def test_of_several_calls_only_those_inventing_a_value_are_left_out(
        predictor: LocalPredictor, monkeypatch: pytest.MonkeyPatch) -> None:
    """Asked for two things, a turn whose second call makes up its value keeps the first
    call (in its written form) and is not decoded again; one whose every call invents is."""
    weather = [t for t in make_row(0)["tools"] if t["function"]["name"] == "get_weather"]
    row = {**make_row(0, kind=0), "tools": weather}
    row["messages"] = [row["messages"][0], {"role": "user", "content": "Weather in Oslo, and in my home town"}]
    oslo, made_up, also_made_up = (("get_weather", {"city": c}) for c in ("Oslo", "Reykjavik", "Santiago"))
    written = {
        "first stands": hermes_calls([oslo, made_up]),
        "second stands": hermes_calls([made_up, oslo]),
        "none stands": hermes_calls([made_up, also_made_up]),
        "all stand": hermes_calls([oslo]),
        "a broken block stands": hermes_calls([made_up]) + "\n<tool_call>{\"name\": \"get_wea",
    }
    assert {k: predictor.without_invented(row, v) for k, v in written.items()} == {
        "first stands": hermes_calls([oslo]), "second stands": hermes_calls([oslo]),
        "none stands": None, "all stand": hermes_calls([oslo]), "a broken block stands": None}
    calls: list[bool] = []

    def fake_generate(shared, prefix_cache, ids, tools, adjust, base, text_only=False, starts=None, named=None):  # type: ignore[no-untyped-def]
        calls.append(text_only)
        return ["Which town?"] * len(ids) if text_only else [written["second stands"], written["none stands"]]

    monkeypatch.setattr(predictor, "_generate", fake_generate)
    out = predictor.predict([row, {**row, "id": "r-1"}])
    assert out == [hermes_calls([oslo]), "Which town?"] and calls == [False, True]


def test_a_text_only_decoding_never_opens_a_call(predictor: LocalPredictor) -> None:
    """Even where the decision would open every call (threshold 0)."""
    rows = [make_row(i) for i in range(4)]
    groups = predictor._groups([{**r, "messages": r["messages"][:2]} for r in rows])
    trigger = predictor.trigger_id(TRIGGER)
    predictor.decision = Decision(TRIGGER, 0.0)
    try:
        for text_only in (False, True):
            for shared, cache, part in predictor._batches(groups):
                out = predictor._generate(shared, cache, [m[1] for m in part], [r["tools"] for r in rows[: len(part)]],
                                          text_only=text_only)
                firsts = [predictor.tokenizer(o, add_special_tokens=False)["input_ids"][:1] == [trigger] for o in out]
                assert all(firsts) if not text_only else not any(firsts)
    finally:
        predictor.decision = None


def test_a_said_value_an_earlier_call_of_another_tool_took_is_not_said_again() -> None:
    """"Escalate every high-priority open ticket to urgent": `status: open` and `priority:
    high` belong to the listing; the updates take `urgent` and leave the status alone.
    The same tool called again (ticket after ticket) keeps its own value."""
    tickets = tool("update_ticket", {"ticket_id": {"type": "string"},
                                     "status": {"type": "string", "enum": ["open", "closed"]},
                                     "priority": {"type": "string", "enum": ["low", "high", "urgent"]}}, ["ticket_id"])
    terms = {"update_ticket": {"status": {"open": [], "closed": []}, "priority": {"urgent": [], "high": [], "low": []}}}

    def call(name: str, args: dict[str, Any]) -> dict[str, Any]:
        return {"role": "assistant", "content": None, "tool_calls": [
            {"type": "function", "function": {"name": name, "arguments": args}}]}

    row = {"messages": [
        {"role": "user", "content": "Escalate every high-priority open ticket to urgent"},
        call("list_tickets", {"status": "open", "priority": "high"}),
        {"role": "tool", "content": json.dumps({"tickets": [{"ticket_id": "T-1"}, {"ticket_id": "T-2"}]})}]}
    assert used_values(row) == {"list_tickets": {"status": {"open"}, "priority": {"high"}}}

    def offered(r: dict[str, Any], used: Any) -> list[dict[str, Any]]:
        return said_values([tickets], terms, user_text(r), said_text(r), used)

    props = arguments(offered(row, used_values(row)), "update_ticket")
    assert props["priority"]["enum"] == ["urgent"] and "status" not in props
    assert required_of(offered(row, used_values(row))) == ["ticket_id", "priority"]
    assert arguments(offered(row, None), "update_ticket")["status"]["enum"] == ["open"]  # without: pinned
    # The second update: `urgent` was this tool's own value, so it is still said.
    again = {"messages": [*row["messages"], call("update_ticket", {"ticket_id": "T-1", "priority": "urgent"}),
                          {"role": "tool", "content": "{}"}]}
    assert arguments(offered(again, used_values(again)), "update_ticket")["priority"]["enum"] == ["urgent"]


def test_no_expected_call_in_gorillas_own_bfcl_files_invents_a_value() -> None:
    """Data not written here: every expected call of the BFCL fixture files (each argument's
    first acceptable value) passes the rule. On the whole of BFCL v4 it turns 2.1% of the
    expected calls into text answers (README, "Invented values")."""
    fixtures = Path(__file__).resolve().parent.parent / "fixtures" / "bfcl"
    checked = 0
    for answers in sorted((fixtures / "possible_answer").glob("*.json")):
        truth = {a["id"]: a["ground_truth"] for a in map(json.loads, answers.read_text().splitlines())}
        for entry in map(json.loads, (fixtures / answers.name).read_text().splitlines()):
            if entry["id"] not in truth:
                continue
            text = "\n".join(m["content"] for turn in entry["question"] for m in turn)
            words, quantities = content_words(text), says_quantity(text)
            docs = {f["name"]: f.get("parameters") for f in entry["function"]}
            for call in truth[entry["id"]]:
                (name, args), = call.items()
                first = {k: v[0] for k, v in args.items() if isinstance(v, list) and v and v[0] != ""}
                assert invented_values(docs[name], first, words, quantities=quantities) == [], (entry["id"], name, first)
                checked += 1
    assert checked >= 20


def test_bfcl_numbers_from_a_description_pass_and_numbers_from_world_knowledge_do_not() -> None:
    """Data not written here: BFCL calls whose numbers no conversation word gives. A number
    the parameter's description writes passes ("1 for cleaning service"); a number only
    world knowledge gives is blocked, the rule's known cost (4 of BFCL v4's 3,302 calls)."""
    fixtures = Path(__file__).resolve().parent.parent / "fixtures" / "bfcl_quantities"
    truth = {a["id"]: a["ground_truth"] for a in map(
        json.loads, (fixtures / "possible_answer" / "BFCL_v4_quantities.json").read_text().splitlines())}
    blocked = {}
    for entry in map(json.loads, (fixtures / "BFCL_v4_quantities.json").read_text().splitlines()):
        text = "\n".join(m["content"] for turn in entry["question"] for m in turn)
        assert not says_quantity(text), entry["id"]
        docs = {f["name"]: f.get("parameters") for f in entry["function"]}
        (name, args), = truth[entry["id"]][0].items()
        first = {k: v[0] for k, v in args.items() if isinstance(v, list) and v and v[0] != ""}
        blocked[entry["id"]] = sorted(invented_values(docs[name], first, content_words(text), quantities=False))
    assert blocked == {
        "simple_python_112": ["favorable_outcomes", "total_outcomes"],  # a deck: 52 cards, 4 kings
        "live_multiple_945-196-3": ["volume"],  # 50, nobody asked
        "live_multiple_918-191-6": [], "live_multiple_971-212-0": [], "live_simple_177-103-0": [],
    }
