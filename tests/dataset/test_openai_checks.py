from __future__ import annotations

from typing import Any

import pytest

from mcptrain.dataset.openai_checks import FormatChecker, estimate_tokens

SYSTEM = {"role": "system", "content": "s"}
USER = {"role": "user", "content": "u"}
TOOLS = [{"type": "function", "function": {"name": "get_x", "parameters": {"type": "object"}}}]


def call(call_id: str = "call_1", name: str = "get_x", arguments: Any = "{}") -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def example(*messages: Any, **extra: Any) -> dict[str, Any]:
    return {"messages": [SYSTEM, USER, *messages], **extra}


def errors(ex: Any) -> list[str]:
    return FormatChecker().check(ex)


def test_a_good_example_has_no_errors() -> None:
    assert errors(example({"role": "assistant", "content": "hi"})) == []
    assert errors(example({"role": "assistant", "tool_calls": [call()]},
                          {"role": "tool", "tool_call_id": "call_1", "content": "{}"},
                          {"role": "assistant", "content": "done", "weight": 1}, tools=TOOLS)) == []


# The cookbook's seven checks, by their names.
@pytest.mark.parametrize(("ex", "expected"), [
    (["not", "a", "dict"], ["data_type"]),
    ({"messages": []}, ["missing_messages_list"]),
    ({"prompt": "x"}, ["missing_messages_list"]),
    (example({"content": "x"}), ["message_missing_key", "unrecognized_role", "example_missing_assistant_message"]),
    (example({"role": "assistant"}), ["message_missing_key", "missing_content"]),
    (example({"role": "assistant", "content": "x", "extra": 1}), ["message_unrecognized_key"]),
    (example({"role": "robot", "content": "x"}), ["unrecognized_role", "example_missing_assistant_message"]),
    (example({"role": "assistant", "content": ""}), ["missing_content"]),
    (example({"role": "assistant", "content": ["x"]}), ["missing_content"]),
    (example(), ["example_missing_assistant_message"]),
])
def test_cookbook_checks(ex: Any, expected: list[str]) -> None:
    assert errors(ex) == expected


# What the cookbook could not know yet: tool calls and tools.
@pytest.mark.parametrize(("messages", "expected"), [
    ([{"role": "assistant", "tool_calls": []}], ["message_missing_key", "missing_content", "tool_calls_malformed"]),
    ([{"role": "user", "content": "x", "tool_calls": [call()]}, {"role": "assistant", "content": "y"}],
     ["tool_calls_malformed"]),
    ([{"role": "assistant", "tool_calls": [{"type": "function"}]}], ["tool_call_malformed"]),
    ([{"role": "assistant", "tool_calls": [call(call_id="")]}], ["tool_call_missing_id"]),
    ([{"role": "assistant", "tool_calls": [call(), call()]}], ["tool_call_duplicate_id"]),
    ([{"role": "assistant", "tool_calls": [call(arguments={"a": 1})]}],
     ["tool_call_arguments_not_a_json_object_string"]),
    ([{"role": "assistant", "tool_calls": [call(arguments="[1]")]}], ["tool_call_arguments_not_a_json_object_string"]),
    ([{"role": "assistant", "tool_calls": [call(arguments="{")]}], ["tool_call_arguments_not_a_json_object_string"]),
    ([{"role": "assistant", "tool_calls": [call(name="other")]}], ["tool_call_unknown_function"]),
    ([{"role": "assistant", "tool_calls": [call()], "content": 5}], ["missing_content"]),
    ([{"role": "assistant", "tool_calls": [call()]}, {"role": "tool", "content": "{}"}],
     ["tool_message_missing_id"]),
    ([{"role": "assistant", "tool_calls": [call()]}, {"role": "tool", "tool_call_id": "call_9", "content": "{}"}],
     ["tool_message_unknown_id"]),
    ([{"role": "assistant", "content": "x", "weight": 2}], ["message_bad_weight"]),
])
def test_tool_call_checks(messages: list[Any], expected: list[str]) -> None:
    assert errors(example(*messages, tools=TOOLS)) == expected


@pytest.mark.parametrize(("tools", "expected"), [
    ({"get_x": {}}, ["tools_not_a_list"]),
    ([{"type": "function"}], ["tools_malformed"]),
    ([{"type": "function", "function": {"name": 3}}], ["tools_malformed"]),
    ([{"type": "function", "function": {"name": "x", "parameters": []}}], ["tools_malformed"]),
])
def test_tools_checks(tools: Any, expected: list[str]) -> None:
    assert errors(example({"role": "assistant", "content": "x"}, tools=tools)) == expected


def test_unknown_top_level_keys() -> None:
    assert errors(example({"role": "assistant", "content": "x"}, id="r1")) == ["example_unrecognized_key"]


def test_data_warnings_and_token_estimates() -> None:
    checker = FormatChecker()
    long = {"role": "assistant", "content": "word " * 16_400}
    longer = {"role": "assistant", "content": "word " * 65_600}
    assert checker.check({"messages": [long]}) == []
    assert checker.check({"messages": [USER, longer]}) == []
    dotted = [{"type": "function", "function": {"name": "pay.create", "parameters": {}}}]
    assert checker.check(example({"role": "assistant", "content": "x"}, tools=dotted)) == []
    assert dict(checker.report.warnings) == {
        "missing_system": 2, "missing_user": 1, "over_16385_tokens": 2, "over_65536_tokens": 1,
        "tools_name_not_accepted_by_openai": 1}
    assert checker.report.examples == 3
    assert checker.report.max_tokens == 65_600 + 3 + 3 + 1 + 3


def test_token_estimate_counts_words_and_marks() -> None:
    assert estimate_tokens('Charge $50 for "INV-123".') == 10
