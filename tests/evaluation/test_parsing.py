from __future__ import annotations

import json

import pytest

from mcptrain.evaluation.calls import ToolCall
from mcptrain.evaluation.parsing import MAX_CHARS, Parsed, parse_output

PAY = ToolCall("create_payment", {"amount": 5000})


def test_hermes_block() -> None:
    raw = '<tool_call>{"name": "create_payment", "arguments": {"amount": 5000}}</tool_call>'
    assert parse_output(raw) == Parsed((PAY,), "", None)


def test_hermes_several_blocks_with_whitespace_and_text() -> None:
    raw = ('Sure.\n<tool_call>\n  {"name": "get_payment_status", "arguments": {"payment_id": "P-1"}}\n</tool_call>\n'
           '<tool_call>{"name": "get_payment_status", "arguments": {"payment_id": "P-2"}}</tool_call> Done.')
    parsed = parse_output(raw)
    assert parsed.calls == (ToolCall("get_payment_status", {"payment_id": "P-1"}),
                            ToolCall("get_payment_status", {"payment_id": "P-2"}))
    assert parsed.text == "Sure. Done."
    assert parsed.malformed is None


def test_hermes_missing_closing_tag_at_end() -> None:
    raw = '<tool_call>\n{"name": "create_payment", "arguments": {"amount": 5000}}\n<|im_end|>'
    assert parse_output(raw) == Parsed((PAY,))


def test_hermes_arguments_as_json_string_and_parameters_key() -> None:
    assert parse_output('<tool_call>{"name": "create_payment", "arguments": "{\\"amount\\": 5000}"}</tool_call>'
                        ).calls == (PAY,)
    assert parse_output('<tool_call>{"name": "create_payment", "parameters": {"amount": 5000}}</tool_call>'
                        ).calls == (PAY,)


def test_hermes_invalid_json_is_malformed() -> None:
    parsed = parse_output('<tool_call>{"name": "create_payment", "arguments": {"amount": 50</tool_call>')
    assert parsed.calls == ()
    assert parsed.malformed == "tool call 1: invalid JSON (Expecting ',' delimiter at line 1 column 54)"


def test_hermes_empty_block_is_malformed() -> None:
    assert parse_output("<tool_call></tool_call>").malformed == "tool call 1 is empty"


def test_closing_tag_without_opening_is_malformed() -> None:
    assert parse_output('{"name": "x"}</tool_call>').malformed == \
        "'</tool_call>' without an opening '<tool_call>'"


def test_openai_message_with_string_arguments() -> None:
    msg = {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "create_payment", "arguments": '{"amount": 5000}'}}]}
    assert parse_output(msg) == Parsed((PAY,))


def test_openai_message_with_object_arguments_and_text() -> None:
    msg = {"role": "assistant", "content": "Charging now.",
           "tool_calls": [{"type": "function", "function": {"name": "create_payment", "arguments": {"amount": 5000}}}]}
    assert parse_output(msg) == Parsed((PAY,), "Charging now.")


def test_openai_message_without_calls_parses_its_content() -> None:
    assert parse_output({"role": "assistant", "content": "How much?"}) == Parsed(text="How much?")
    hermes = {"role": "assistant", "content": '<tool_call>{"name": "create_payment", "arguments": {"amount": 5000}}'}
    assert parse_output(hermes).calls == (PAY,)


def test_openai_content_parts_keep_their_text_parts_only() -> None:
    """Parts are joined as written; an image part, or a part whose text is not a string,
    is left out rather than crashing the parser."""
    parts = [{"type": "text", "text": "How "}, {"type": "image_url", "image_url": {"url": "x"}},
             {"type": "text", "text": 5}, {"type": "text", "text": "much?"}]
    assert parse_output({"role": "assistant", "content": parts}) == Parsed(text="How much?")
    assert parse_output({"role": "assistant", "content": 5}).malformed == "message content is a int, not text"


def test_openai_message_with_bad_argument_json() -> None:
    msg = {"role": "assistant", "tool_calls": [{"function": {"name": "create_payment", "arguments": "{amount: 1}"}}]}
    assert parse_output(msg).malformed == ("tool_calls[0]: arguments of 'create_payment' are not valid JSON "
                                           "(Expecting property name enclosed in double quotes at line 1 column 2)")


def test_bare_json_object_list_and_spec_form() -> None:
    assert parse_output('{"name": "create_payment", "arguments": {"amount": 5000}}').calls == (PAY,)
    assert parse_output('[{"name": "create_payment", "arguments": {"amount": 5000}}, '
                        '{"create_payment": {"amount": 1}}]').calls == (PAY, ToolCall("create_payment", {"amount": 1}))
    assert parse_output('```json\n{"create_payment": {"amount": 5000}}\n```').calls == (PAY,)


def test_the_chapters_tool_call_form() -> None:
    # The design chapter's training data writes the assistant turn like this (format_tool_call).
    chapter = json.dumps({"tool_call": {"name": "create_payment",
                                        "parameters": {"amount": 5000, "currency": "USD", "invoice_id": "INV-123"}}})
    want = (ToolCall("create_payment", {"amount": 5000, "currency": "USD", "invoice_id": "INV-123"}),)
    assert parse_output(chapter).calls == want
    assert parse_output({"role": "assistant", "content": chapter}).calls == want
    assert parse_output(f"Sure. {chapter} Done.") == Parsed(want, "Sure. Done.")
    parallel = json.dumps([{"tool_call": {"name": "get_payment_status", "parameters": {"payment_id": p}}}
                           for p in ("P-1", "P-2")])
    assert [c.arguments for c in parse_output(parallel).calls] == [{"payment_id": "P-1"}, {"payment_id": "P-2"}]
    # a tool that is really named tool_call still parses in the specs' form
    assert parse_output('{"tool_call": {"x": 1}}').calls == (ToolCall("tool_call", {"x": 1}),)


def test_bare_json_that_is_not_a_call_is_malformed() -> None:
    assert parse_output('{"amount": 5000, "currency": "USD"}').malformed == \
        "JSON output: expected an object with 'name' and 'arguments' (got keys 'amount', 'currency')"
    assert parse_output("[1, 2]") == Parsed(text="[1, 2]")  # a list of numbers is no call attempt
    assert parse_output('[{"name": 3}]').malformed == "JSON output item 1: 'name' must be a non-empty string (got 3)"


def test_json_arguments_must_be_an_object() -> None:
    assert parse_output('{"name": "f", "arguments": [1]}').malformed == \
        "JSON output: arguments of 'f' must be an object (got a list)"


def test_truncated_json_is_malformed() -> None:
    assert parse_output('{"name": "create_payment", "arguments": {"amount"').malformed == \
        "JSON output: invalid JSON (Expecting ':' delimiter at line 1 column 50)"


def test_empty_json_list_is_no_call() -> None:
    assert parse_output("[]") == Parsed()


def test_json_call_inside_prose() -> None:
    parsed = parse_output('Sure! {"name": "create_payment", "arguments": {"amount": 5000}} Anything else?')
    assert parsed == Parsed((PAY,), "Sure! Anything else?")
    broken = parse_output('Sure! {"name": "create_payment", "arguments": {"amount": 5000 and more')
    assert broken.malformed == ("text holds what looks like a JSON tool call, but it does not parse "
                                "(Expecting ',' delimiter at line 1 column 63)")


def test_python_call_syntax() -> None:
    parsed = parse_output('[func(a=1, b="x"), mod.func2(c=[1, 2], d={"k": -1.5}, e=None, f=true)]')
    assert parsed.calls == (ToolCall("func", {"a": 1, "b": "x"}),
                            ToolCall("mod.func2", {"c": [1, 2], "d": {"k": -1.5}, "e": None, "f": True}))
    assert parse_output("get_weather(city='Paris')").calls == (ToolCall("get_weather", {"city": "Paris"}),)
    assert parse_output("[f(t=(1, 2))]").calls == (ToolCall("f", {"t": [1, 2]}),)


@pytest.mark.parametrize(("raw", "reason"), [
    ("[f(a=os.system('ls'))]", "call 1 (f): argument 'a' must be a literal value, got os.system('ls')"),
    ("[f(1)]", "call 1 (f): positional arguments are not allowed; write name=value"),
    ("[f(**kw)]", "call 1 (f): '**' arguments are not allowed"),
    ("[f(a=1, a=2)]", "call 1 (f): argument 'a' is given twice"),
    ("[f(a=1), 3]", "call 2: expected name(arg=value, ...), got 3"),
    ("[f(a=1), g(b=", "Python-style call does not parse: '(' was never closed (column 11)"),
    ("[f(a=x)]", "call 1 (f): argument 'a' must be a literal value, got x"),
    ("[f(a=1 + 2)]", "call 1 (f): argument 'a' must be a literal value, got 1 + 2"),
    ("[f()(a=1)]", "call 1: the function must be a name, got f()"),
])
def test_python_call_syntax_refuses_non_literals(raw: str, reason: str) -> None:
    assert parse_output(raw).malformed == reason


def test_plain_text_is_no_call() -> None:
    assert parse_output("I can't help with that.") == Parsed(text="I can't help with that.")
    assert parse_output("Note (see above): nothing to do.").malformed is None
    assert parse_output("[1] First point.").malformed is None
    assert parse_output("") == Parsed()
    assert parse_output(None) == Parsed()


def test_huge_and_odd_outputs() -> None:
    assert parse_output("x" * (MAX_CHARS + 1)).malformed == \
        f"output is {MAX_CHARS + 1} characters; outputs over {MAX_CHARS} are not parsed"
    assert parse_output(42).malformed == "output is a int, not text or a message"  # type: ignore[arg-type]
    assert parse_output('{"name": "f", "arguments": ' + "[" * 100_000).malformed == \
        "JSON output: JSON is nested too deeply"
