"""Fresh calls: a call repeating one already made is written again (`evaluation.fresh_calls`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mcptrain.training.grammar import ToolCallGrammar, call_blocks, written_calls
from mcptrain.training.grounding import (
    FRESH_VARIANTS,
    Left,
    Named,
    earlier_calls,
    first_repeat,
    fresh_tools,
    ground_tools,
    named_ids,
    named_values,
    taken_values,
    taking_tools,
)
from mcptrain.training.predictor import LocalPredictor, hermes_calls
from tests.training.test_grounding import expected_calls, tool

TICKET = {"type": "string", "pattern": "^T-[0-9]+$"}
UPDATE = tool("update_ticket", {"ticket_id": TICKET, "priority": {"type": "string", "enum": ["low", "urgent"]},
                                "note": {"type": "string"}}, ["ticket_id"])
NOTIFY = tool("notify", {"message": {"type": "string"}}, ["message"])
ASK = "Make T-610 and T-611 urgent"


def admits(grammar: ToolCallGrammar, tools: list[dict[str, Any]], calls: list[tuple[str, Any]]) -> bool:
    matcher = grammar.matcher(tools)
    stop = grammar.info.stop_token_ids[0]
    return bool(matcher.accept_string(hermes_calls(calls))) and bool(matcher.accept_token(stop))


@pytest.fixture(scope="module")
def grammar(tiny_tokenizer: Any) -> ToolCallGrammar:
    return ToolCallGrammar(tiny_tokenizer, [tiny_tokenizer.convert_tokens_to_ids("<|im_end|>")])


def test_first_repeat_finds_a_call_made_earlier_in_the_turn_or_the_history() -> None:
    a, b = ("update_ticket", {"ticket_id": "T-1"}), ("update_ticket", {"ticket_id": "T-2"})
    assert first_repeat([a, b]) is None
    assert first_repeat([a, b, a]) == 2
    assert first_repeat([b, a], [a]) == 1
    assert first_repeat([("update_ticket", {"ticket_id": "T-1", "priority": "low"})], [a]) is None
    assert first_repeat([None, a], [a]) == 1 and first_repeat([None, None]) is None  # blocks that are not JSON
    # As fresh_tools compares them: as JSON, so 1 is not 1.0 and true is not 1.
    assert first_repeat([("f", {"n": 1}), ("f", {"n": 1.0}), ("f", {"n": True})]) is None
    assert first_repeat([("f", {"a": 1, "b": 2})], [("f", {"b": 2, "a": 1})]) == 0


def test_earlier_calls_read_the_history_before_the_turn_asked() -> None:
    row = {"messages": [
        {"role": "user", "content": ASK},
        {"role": "assistant", "content": None, "tool_calls": [
            {"type": "function", "function": {"name": "update_ticket", "arguments": '{"ticket_id": "T-610"}'}}]},
        {"role": "tool", "name": "update_ticket", "content": "ok"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"type": "function", "function": {"name": "notify", "arguments": {"message": "done"}}}]}]}
    assert earlier_calls(row) == []  # a whole row is asked at its first assistant turn (docs/rows.md)
    assert earlier_calls({"messages": row["messages"][:3]}) == [("update_ticket", {"ticket_id": "T-610"})]


def test_fresh_tools_refuse_every_call_made_and_admit_a_new_value(grammar: ToolCallGrammar) -> None:
    tools = ground_tools([UPDATE, NOTIFY], ASK)
    made = [("update_ticket", {"priority": "urgent", "ticket_id": "T-611"})]
    fresh = fresh_tools(tools, made)
    assert not admits(grammar, fresh, made)
    assert admits(grammar, fresh, [("update_ticket", {"priority": "urgent", "ticket_id": "T-610"})])
    assert admits(grammar, fresh, [("update_ticket", {"priority": "low", "ticket_id": "T-611"})])
    assert admits(grammar, fresh, [("notify", {"message": "done"})])  # a tool not called is as it was
    # The same id with a new free text only: no enum takes a new value, so it is refused too.
    assert not admits(grammar, fresh, [("update_ticket", {"note": "x", "priority": "urgent", "ticket_id": "T-611"})])
    # Both ids and both priorities taken, by two calls: the other pairings are still fresh.
    both = [*made, ("update_ticket", {"priority": "low", "ticket_id": "T-610"})]
    assert [t["function"]["name"] for t in fresh_tools(tools, both)] == ["update_ticket", "notify"]
    assert not any(admits(grammar, fresh_tools(tools, both), [call]) for call in both)
    assert admits(grammar, fresh_tools(tools, both), [("update_ticket", {"priority": "urgent", "ticket_id": "T-610"})])
    every = [(n, {"priority": p, "ticket_id": t}) for n, _ in made for p in ("low", "urgent") for t in ("T-610", "T-611")]
    assert [t["function"]["name"] for t in fresh_tools(tools, every)] == ["notify"]
    # A boolean is an enum of true and false.
    flag = tool("mute", {"ticket_id": TICKET, "on": {"type": "boolean"}}, ["ticket_id", "on"])
    muted = fresh_tools(ground_tools([flag], "T-610"), [("mute", {"ticket_id": "T-610", "on": True})])
    assert admits(grammar, muted, [("mute", {"on": False, "ticket_id": "T-610"})])
    assert not admits(grammar, muted, [("mute", {"on": True, "ticket_id": "T-610"})])
    # A tool with no enum parameter, once called, is not offered.
    assert [t["function"]["name"] for t in fresh_tools(tools, [("notify", {"message": "done"})])] == ["update_ticket"]
    assert fresh_tools(tools, []) == tools


def test_fresh_tools_fall_back_to_new_values_when_the_variants_are_too_many(grammar: ToolCallGrammar) -> None:
    """Six enum parameters and three earlier calls: 6^3 ways to differ from all three, over
    `FRESH_VARIANTS`; each parameter then asks a value none of the three gave it."""
    params = {f"p{k}": {"type": "string", "enum": ["a", "b", "c", "d"]} for k in range(6)}
    wide = tool("wide", params, [])
    made = [("wide", {p: v for p in params}) for v in ("a", "b", "c")]
    fresh = fresh_tools([wide], made)
    schema = fresh[0]["function"]["parameters"]
    assert len(schema["anyOf"]) == 6 < 6 ** 3 and FRESH_VARIANTS < 6 ** 3
    assert all(sub["properties"][f"p{k}"]["enum"] == ["d"] for k, sub in enumerate(schema["anyOf"]))
    assert not any(admits(grammar, fresh, [call]) for call in made)
    assert admits(grammar, fresh, [("wide", {**made[0][1], "p3": "d"})])


def test_no_expected_call_of_the_demos_train_and_validation_repeats_one(demo_rows: list[dict[str, Any]]) -> None:
    """The property fresh calls rely on, on the data they are chosen on: no expected call
    repeats a call of its history or of its own turn, so a repeat is always wrong."""
    checked = later = 0
    for _row, before, calls in expected_calls(demo_rows):
        history = earlier_calls(before)
        assert first_repeat(calls, history) is None, (_row["id"], calls)
        checked += 1
        later += bool(history) + len(calls) - 1
    assert checked > 400 and later > 50


def test_call_blocks_cut_where_written_calls_read() -> None:
    text = "Sure. " + hermes_calls([("notify", {"message": "a"}), ("notify", {"message": "b"})])
    blocks = call_blocks(text)
    assert [b[2] for b in blocks] == written_calls(text)
    assert text[: blocks[0][1]].endswith("</tool_call>") and text[blocks[1][0]:].startswith("<tool_call>")
    assert call_blocks("<tool_call>{oops") == [(0, len("<tool_call>{oops"), None)]
    # An unclosed block ends where the next begins: it does not swallow the next one's end tag.
    broken = "<tool_call>{oops\n" + hermes_calls([("notify", {"message": "a"})])
    assert [(b[0], b[1], b[2]) for b in call_blocks(broken)] == [
        (0, len("<tool_call>{oops\n"), None), (len("<tool_call>{oops\n"), len(broken), ("notify", {"message": "a"}))]
    assert written_calls(broken) == [("notify", {"message": "a"})]


@pytest.fixture(scope="module")
def predictor(tiny_model: Path) -> LocalPredictor:
    return LocalPredictor(str(tiny_model), batch_size=4, max_new_tokens=160, precision="fp32",
                          constrained=True, calibrated=False)


def ticket_rows(n: int) -> list[dict[str, Any]]:
    return [{"id": f"t-{i}", "service": "demo", "tools": [UPDATE, NOTIFY], "messages": [
        {"role": "system", "content": "You call tools."}, {"role": "user", "content": ASK}]} for i in range(n)]


def test_a_turn_goes_on_from_before_its_repeated_call(predictor: LocalPredictor,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The first pass writes T-611 twice; the turn is decoded on after the first call
    (its tokens the prompt's last, and the row's `starts`), offered tools without it."""
    first = hermes_calls([("update_ticket", {"priority": "urgent", "ticket_id": "T-611"})] * 2)
    seen: list[dict[str, Any]] = []
    real = predictor._generate

    def fake_generate(shared, prefix_cache, ids, tools, adjust=None, base=None, text_only=False, starts=None, named=None):  # type: ignore[no-untyped-def]
        if starts is None:
            return [first] * len(ids)
        seen.append({"ids": ids, "tools": tools, "starts": starts})
        return real(shared, prefix_cache, ids, tools, adjust, base, text_only=text_only, starts=starts, named=named)

    monkeypatch.setattr(predictor, "_generate", fake_generate)
    monkeypatch.setattr(predictor, "invented_values", False)  # the random model's notes would be
    rows = ticket_rows(2)
    out = predictor.predict(rows)
    kept = first[: call_blocks(first)[0][1]]
    start = predictor.tokenizer(kept, add_special_tokens=False)["input_ids"]
    assert seen and all(s == start for s in seen[0]["starts"])
    assert all(ids[-len(start):] == start for ids in seen[0]["ids"])
    for text in out:
        assert text.startswith(kept + "\n<tool_call>")
        calls = written_calls(text)
        assert calls[0] == ("update_ticket", {"priority": "urgent", "ticket_id": "T-611"})
        assert len(calls) >= 2 and first_repeat(calls) is None  # a random model, held to fresh calls
    predictor.fresh_calls = False
    try:
        seen.clear()
        assert predictor.predict(rows) == [first, first] and not seen
    finally:
        predictor.fresh_calls = True


def test_a_rewritten_row_skips_the_call_or_answer_decision(predictor: LocalPredictor) -> None:
    """A decision that would answer every turn in text and end every turn after a call:
    the rewritten rows still write the continuation and another call after their kept one."""
    from mcptrain.training.decision import CONTINUE, TRIGGER, Decision, More

    rows = ticket_rows(2)
    kept = hermes_calls([("update_ticket", {"priority": "urgent", "ticket_id": "T-611"})])
    start = predictor.tokenizer(kept, add_special_tokens=False)["input_ids"]
    fresh = fresh_tools(ground_tools([UPDATE], ASK), [written_calls(kept)[0]])
    groups = predictor._groups(rows)
    predictor.decision = Decision(TRIGGER, 1.5, more=More(threshold=2.0))
    predictor._trigger = predictor.trigger_id(TRIGGER)
    try:
        for shared, cache, part in predictor._batches(groups):
            out = predictor._generate(shared, cache, [[*m[1], *start] for m in part], [fresh] * len(part),
                                      starts=[start] * len(part))
            plain = predictor._generate(shared, cache, [m[1] for m in part], [fresh] * len(part))
    finally:
        predictor.decision = None
    for text in out:
        assert text.startswith(kept + CONTINUE), text
        assert written_calls(text)[1][1]["ticket_id"] in {"T-610", "T-611"} and first_repeat(written_calls(text)) is None
    assert not any(TRIGGER in text for text in plain)  # the decision answers these in text


def test_named_ids_read_the_offered_tools_and_the_last_user_messages_text() -> None:
    close = tool("close_ticket", {"ticket_id": TICKET}, ["ticket_id"])
    order = tool("get_order", {"order_id": {"type": "string", "pattern": "^ORD-[0-9]+$"}}, ["order_id"])
    row = {"tools": [close, order], "messages": [
        {"role": "user", "content": "T-1 please"},
        {"role": "user", "content": [{"type": "text", "text": "Close T-2 and look at ORD-3"}]}]}
    assert named_ids(row) == {"T-2", "ORD-3"}
    assert named_ids(row, ground_tools([close], "T-2")) == {"T-2"}  # get_order is not offered
    assert named_ids(row, []) == set()


def test_a_first_call_repeating_the_history_with_nothing_fresh_left_is_answered_in_text(
        predictor: LocalPredictor, monkeypatch: pytest.MonkeyPatch) -> None:
    made = ("notify", {"message": "done"})
    row = ticket_rows(1)[0]
    row["tools"] = [NOTIFY]
    row["messages"] += [
        {"role": "assistant", "content": None, "tool_calls": [
            {"type": "function", "function": {"name": made[0], "arguments": json.dumps(made[1])}}]},
        {"role": "tool", "name": "notify", "content": "sent"}, {"role": "user", "content": "Thanks!"}]
    passes: list[bool] = []

    def fake_generate(shared, prefix_cache, ids, tools, adjust=None, base=None, text_only=False, starts=None, named=None):  # type: ignore[no-untyped-def]
        passes.append(text_only)
        return ["You're welcome." if text_only else hermes_calls([made])] * len(ids)

    monkeypatch.setattr(predictor, "_generate", fake_generate)
    assert predictor.predict([row]) == ["You're welcome."] and passes == [False, True]


def test_a_repeat_that_persists_is_cut_after_the_calls_before_it(
        predictor: LocalPredictor, monkeypatch: pytest.MonkeyPatch) -> None:
    from mcptrain.training.predictor import REPEAT_ROUNDS

    twice = hermes_calls([("update_ticket", {"ticket_id": "T-611"})] * 2)
    rewrites: list[Any] = []

    def fake_generate(shared, prefix_cache, ids, tools, adjust=None, base=None, text_only=False, starts=None, named=None):  # type: ignore[no-untyped-def]
        if starts is not None:
            rewrites.append(starts)
        return [twice] * len(ids)  # a model that will not stop repeating itself

    monkeypatch.setattr(predictor, "_generate", fake_generate)
    assert predictor.predict(ticket_rows(1)) == [hermes_calls([("update_ticket", {"ticket_id": "T-611"})])]
    assert len(rewrites) == REPEAT_ROUNDS >= 1


def test_named_ids_are_the_last_user_messages_ids_no_history_call_took() -> None:
    nested = tool("move", {"ticket": {"type": "object", "properties": {"id": TICKET}},
                           "queue": {"type": "string", "pattern": "^[A-Z]{2}$"}}, [])
    row = {"tools": [nested], "messages": [
        {"role": "user", "content": "Look at T-1 first"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"type": "function", "function": {"name": "move", "arguments": {"ticket": {"id": "T-2"}}}}]},
        {"role": "tool", "name": "move", "content": "T-9 moved"},
        {"role": "user", "content": "Now move T-2, T-3 and T-4 to queue EU"}]}
    # T-1 is an earlier message's, T-9 a tool result's, T-2 a history call's; EU is no id (no digit).
    assert named_ids(row) == {"T-3", "T-4"}
    assert named_ids({"tools": [NOTIFY], "messages": row["messages"]}) == set()
    assert taken_values([("move", {"ticket": {"id": "T-3"}, "tags": ["T-4", 5]}), None]) == {"T-3", "T-4"}


def test_a_turn_goes_on_while_a_named_id_is_untaken(predictor: LocalPredictor,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A decision that never opens another call (More above 1). Where a call closes (here:
    after the first token, whatever it was) with an id the user names untaken, the turn
    goes on with another call (the grammar holds the random model to T-610 or T-611)."""
    from mcptrain.training.decision import CONTINUE, TRIGGER, Decision, More

    rows = ticket_rows(2)
    rows[1]["messages"][1]["content"] = "Close my tickets"  # names no id
    for r in rows:
        r["tools"] = [tool("close_ticket", {"ticket_id": TICKET}, ["ticket_id"])]
    monkeypatch.setattr(predictor, "_closed_call", lambda tokens: len(tokens) == 1)
    predictor.decision = Decision(TRIGGER, 0.0, more=More(threshold=2.0))
    predictor._trigger = predictor.trigger_id(TRIGGER)
    try:
        predictor.named_ids = False
        ended = predictor.predict(rows)
        predictor.named_ids = True
        outputs = predictor.predict(rows)
    finally:
        predictor.decision, predictor.named_ids = None, True
    assert len(predictor.tokenizer(ended[0], add_special_tokens=False)["input_ids"]) == 1
    assert outputs[0].startswith(ended[0] + CONTINUE), outputs[0]
    assert written_calls(outputs[0])[0][1]["ticket_id"] in {"T-610", "T-611"}
    assert outputs[1] == ended[1]  # nothing named: the decision's end stands


def test_a_turn_is_sent_on_only_while_each_call_takes_a_named_id(predictor: LocalPredictor) -> None:
    named = Named(frozenset({"T-610", "T-611"}))
    one = written_calls(hermes_calls([("close_ticket", {"ticket_id": "T-611"})]))
    both = written_calls(hermes_calls([("close_ticket", {"ticket_id": "T-611"}), ("close_ticket", {"ticket_id": "T-610"})]))
    assert predictor._sends_on(named.measure(one), {}, 0) and not predictor._sends_on(named.measure(both), {}, 0)
    took: dict[int, int] = {}
    assert predictor._sends_on(named.measure([]), took, 0) and took == {0: 0}
    assert not predictor._sends_on(named.measure(written_calls("Sure.")), took, 0)  # nothing taken since: no progress
    assert predictor._sends_on(named.measure(one), took, 0) and took == {0: 1}
    assert not predictor._sends_on(named.measure(one + one), took, 0)
    assert not predictor._sends_on(Named().measure(one), {}, 0)


LISTING = tool("list_payments", {"status": {"type": "string", "enum": ["pending", "failed", "refunded", "paid"]},
                                 "since": {"type": "string", "format": "date"}}, [])


def test_named_values_are_the_enum_values_the_last_message_states() -> None:
    row = {"tools": [LISTING, UPDATE], "messages": [
        {"role": "user", "content": "Anything paid?"},
        {"role": "user", "content": "Show me the pending, the failed and the refunded payments, low priority"}]}
    # `paid` was said in an earlier message; one stated priority is no list of them.
    assert named_values(row) == {"list_payments": {"status": frozenset({"pending", "failed", "refunded"})}}
    assert named_values(row, [UPDATE]) == {}


def test_named_values_leave_out_values_said_inside_another_told_apart_by_case_or_quantifiers() -> None:
    """What made BFCL v4's expected answers end with a value "untaken" (gorilla 6ea57973):
    "like new" also says "new", "AA" also says "Aa" and "aa", "all of my servers" says "all"."""
    def named(enum: list[str], said: str) -> dict[str, dict[str, frozenset[str]]]:
        return named_values({"tools": [tool("t", {"p": {"type": "string", "enum": enum}}, [])],
                             "messages": [{"role": "user", "content": said}]})

    assert named(["New", "Like New", "Used"], "a game like new, or used") == {"t": {"p": frozenset({"Like New", "Used"})}}
    assert named(["Comedy", "Drama", "Comedy-drama"], "a Comedy-drama") == {}
    assert named(["AA", "Aa", "aa", "AB"], "the frequency of AA and AB") == {}
    assert named(["all", "mtna", "ods"], "all of my MTNA and ODS servers") == {"t": {"p": frozenset({"mtna", "ods"})}}


def test_a_parameter_set_to_a_stated_value_asks_for_its_other_stated_values() -> None:
    statuses = {"list_payments": {"status": frozenset({"pending", "failed", "refunded"})}}
    named = Named(frozenset({"C-1"}), statuses)
    assert named.progress([]) == ({"C-1"}, 0)
    assert named.progress([("list_payments", {"status": "pending"})]) == (
        {"C-1", "list_payments.status=failed", "list_payments.status=refunded"}, 1)
    assert named.untaken([("list_payments", {"status": "pending", "customer_id": "C-1"}),
                          ("list_payments", {"status": "failed"}), ("list_payments", {"status": "refunded"})]) == set()
    # A value nobody stated (derived: "hasn't paid" for `pending`) asks for nothing more.
    assert named.untaken([("list_payments", {"status": "paid"})]) == {"C-1"}
    # Only the tool's own parameter takes a value: "failed" in another tool's call, or in a
    # list, is not the listing asked for.
    assert named.untaken([("list_payments", {"status": "pending"}), ("notify", {"message": "failed"}),
                          ("list_payments", {"status": ["refunded"]})]) == {
        "C-1", "list_payments.status=failed", "list_payments.status=refunded"}
    # What the tool's calls before the turn gave is not asked again.
    again = Named(frozenset(), statuses, (("list_payments", {"status": "failed"}), ("notify", {"message": "refunded"})))
    assert again.untaken([("list_payments", {"status": "pending"})]) == {"list_payments.status=refunded"}


def test_a_turn_naming_ids_and_values_is_sent_on_while_each_call_takes_one(predictor: LocalPredictor) -> None:
    """Setting a stated value asks for its siblings, so what is untaken can grow while the
    turn makes progress: the bound is on what the calls take, not on what is left."""
    named = Named(frozenset({"C-1", "C-2"}), {"list_payments": {"status": frozenset({"pending", "failed"})}})
    close = ("close_account", {"customer_id": "C-1"})
    listing = ("list_payments", {"status": "pending", "customer_id": "C-2"})
    took: dict[int, int] = {}
    assert predictor._sends_on(named.measure([close]), took, 0) and took == {0: 1}
    assert predictor._sends_on(named.measure([close, listing]), took, 0) and took == {0: 3}
    assert not predictor._sends_on(named.measure([close, listing, close]), took, 0)  # took nothing new
    assert not predictor._sends_on(named.measure([close, listing, ("list_payments", {"status": "failed"})]),
                                   took, 0)  # nothing left


def test_a_named_value_untaken_at_a_call_end_is_nearly_always_followed_by_another_call(
        demo_rows: list[dict[str, Any]]) -> None:
    """The property named ids and named values rest on, on the data they are chosen on: at
    a call end of an expected turn where something named is untaken, the turn goes on."""
    sent_on = ended = 0
    for _row, before, calls in expected_calls(demo_rows):
        named = Named(named_ids(before), named_values(before), tuple(earlier_calls(before)))
        for j in range(len(calls)):
            if named.untaken(calls[: j + 1]):
                sent_on += j < len(calls) - 1
                ended += j == len(calls) - 1
    assert sent_on >= 30 and ended * 10 <= sent_on + ended, (sent_on, ended)


def test_a_call_after_another_while_something_named_is_untaken_must_take_some_of_it(
        grammar: ToolCallGrammar) -> None:
    """`taking_tools`: the next call's tools, narrowed to what is named and untaken."""
    tools = ground_tools([UPDATE, NOTIFY, LISTING], ASK)
    left = Named(frozenset({"T-610", "T-611"})).left([("update_ticket", {"ticket_id": "T-611"})])
    assert left.ids == {"T-610"} and left.values == {} and left
    taking = taking_tools(tools, left)
    assert [t["function"]["name"] for t in taking] == ["update_ticket"]  # nothing else can take T-610
    assert admits(grammar, taking, [("update_ticket", {"priority": "low", "ticket_id": "T-610"})])
    assert not admits(grammar, taking, [("update_ticket", {"priority": "low", "ticket_id": "T-611"})])
    assert not admits(grammar, taking, [("notify", {"message": "done"})])
    # Ungrounded, the id pattern says what the parameter can hold.
    assert taking_tools([UPDATE], left)[0]["function"]["parameters"]["properties"]["ticket_id"]["enum"] == ["T-610"]
    # A named value: only its own tool and parameter take it.
    values = Named(frozenset(), {"list_payments": {"status": frozenset({"pending", "failed"})}})
    left = values.left([("list_payments", {"status": "pending"})])
    taking = taking_tools(tools, left)
    assert [t["function"]["name"] for t in taking] == ["list_payments"]
    assert admits(grammar, taking, [("list_payments", {"status": "failed"})])
    assert not admits(grammar, taking, [("list_payments", {"status": "refunded"})])
    assert not admits(grammar, taking, [("list_payments", {})])
    # Two parameters that can take something: either will do.
    both = Left(frozenset({"T-610"}), {"update_ticket": {"priority": frozenset({"low"})}})
    taking = taking_tools([UPDATE], both)
    assert admits(grammar, taking, [("update_ticket", {"ticket_id": "T-610"})])
    assert admits(grammar, taking, [("update_ticket", {"priority": "low", "ticket_id": "T-9"})])
    assert not admits(grammar, taking, [("update_ticket", {"priority": "urgent", "ticket_id": "T-9"})])
    # A tool fresh calls offer as variants (two enum parameters: anyOf) is narrowed variant by variant.
    user = tool("create_user", {"email": {"type": "string", "format": "email"},
                                "role": {"type": "string", "enum": ["viewer", "editor"]},
                                "plan": {"type": "string", "enum": ["free", "pro"]}}, ["email", "role"])
    ask = "Add nadia@acme.io and luca@acme.io as editors"
    made = [("create_user", {"email": "nadia@acme.io", "role": "editor"})]
    fresh = fresh_tools(ground_tools([user], ask), made)
    assert "anyOf" in fresh[0]["function"]["parameters"]
    left = Named(frozenset({"nadia@acme.io", "luca@acme.io"})).left(made)
    taking = taking_tools(fresh, left)
    assert [t["function"]["name"] for t in taking] == ["create_user"]
    assert admits(grammar, taking, [("create_user", {"email": "luca@acme.io", "role": "editor"})])
    assert not admits(grammar, taking, [("create_user", {"email": "nadia@acme.io", "role": "viewer"})])
    # A tool that could take the id inside an array is offered as it is; nothing left, nothing taken.
    batch = tool("close_tickets", {"ticket_ids": {"type": "array", "items": TICKET}}, ["ticket_ids"])
    assert taking_tools([batch, NOTIFY], Left(frozenset({"T-610"}), {})) == [batch]
    assert taking_tools([UPDATE], Left(frozenset(), {})) == [] and not Left(frozenset(), {})


def test_every_expected_call_after_another_takes_something_named_when_something_is_untaken(
        demo_rows: list[dict[str, Any]]) -> None:
    """The property `take_named` rests on, on the data it was chosen on: a call of an
    expected turn that follows another while something named is untaken takes some of it."""
    takes = misses = 0
    for _row, before, calls in expected_calls(demo_rows):
        named = Named(named_ids(before), named_values(before), tuple(earlier_calls(before)))
        for k in range(1, len(calls)):
            left, took = named.progress(calls[:k])
            if left:
                after, took_after = named.progress(calls[: k + 1])
                takes += bool(left - after) and took_after > took
                misses += not (left - after and took_after > took)
    assert takes >= 30 and misses * 20 <= takes, (takes, misses)


def test_a_turn_sent_on_for_an_untaken_id_takes_it(predictor: LocalPredictor,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The decision never asks for another call; the random model's first token counts as
    a closed call (as in the test above), so the named rule sends every row on to a call
    of T-610 or T-611, and on again while the other is untaken. With `take_named` that next
    call must take it; left to itself the random model writes the same id again, and the
    turn ends there (the call took nothing new). (A row whose random end tag runs on into
    text in one token, `>,`, is not seen to close its call, and is not sent on either way.)"""
    from mcptrain.training.decision import TRIGGER, Decision, More

    rows = [{"id": f"c-{i}", "service": "demo", "tools": [tool("close_ticket", {"ticket_id": TICKET}, ["ticket_id"])],
             "messages": [{"role": "system", "content": "You call tools."},
                          {"role": "user", "content": f"Close T-610 and T-611{'!' * i}"}]} for i in range(8)]
    closed = predictor._closed_call
    monkeypatch.setattr(predictor, "_closed_call", lambda tokens: len(tokens) == 1 or closed(tokens))
    predictor.decision = Decision(TRIGGER, 0.0, more=More(threshold=2.0))
    predictor._trigger = predictor.trigger_id(TRIGGER)
    fresh = predictor.fresh_calls
    try:
        predictor.fresh_calls = predictor.take_named = False
        free = [[a["ticket_id"] for _, a in written_calls(o)] for o in predictor.predict(rows)]
        predictor.take_named = True
        taking = [[a["ticket_id"] for _, a in written_calls(o)] for o in predictor.predict(rows)]
    finally:
        predictor.decision, predictor.fresh_calls, predictor.take_named = None, fresh, True
    assert any(len(set(ids)) < len(ids) for ids in free), free
    assert all(len(set(ids)) == len(ids) for ids in taking) and ["T-610", "T-611"] in map(sorted, taking), taking
