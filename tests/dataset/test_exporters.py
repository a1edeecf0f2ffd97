from __future__ import annotations

import json
from pathlib import Path

import pytest

from mcptrain.dataset.build import build_dataset
from mcptrain.dataset.compiler import compile_service
from mcptrain.dataset.exporters import LineEncoder, encode, hf_example, openai_example
from mcptrain.dataset.openai_checks import FormatChecker
from mcptrain.dataset.splits import SPLITS
from mcptrain.specs.validator import validate_repository
from tests.builders import read_rows
from tests.conftest import PROJECTS

TOOLS = [{"type": "function", "function": {"name": "t", "description": "d", "parameters": {"type": "object"}}}]


def good_rows() -> tuple[dict[str, dict], list[dict]]:
    result = validate_repository(PROJECTS / "good")
    cs = compile_service(result.specs.services["payment-service"], result.specs.project_spec)
    return {r["id"]: r for r in cs.rows}, cs.tools


@pytest.mark.parametrize("obj", [
    {"b": 1, "a": "é", "tools": TOOLS},
    {"tools": TOOLS},
    {"messages": [{"role": "user", "content": "x"}], "tools": []},
    {"a": {"z": 1, "y": [1.5, None]}},
])
def test_the_tools_splice_gives_exactly_the_plain_encoding(obj: dict) -> None:
    encoder = LineEncoder()
    expected = json.dumps(obj, sort_keys=True, ensure_ascii=False) + "\n"
    assert encoder.line(obj) == expected
    assert encoder.line(obj) == expected  # the cached tools text too


def test_values_json_cannot_hold_are_refused() -> None:
    with pytest.raises(ValueError, match="cannot be written as JSON: Out of range float values"):
        encode({"x": float("nan")})


def test_openai_form_of_a_sequence() -> None:
    rows, tools = good_rows()
    ex = openai_example(rows["pay-002"], tools)
    assert ex["messages"][2:] == [
        {"role": "assistant", "tool_calls": [{"id": "call_1", "type": "function", "function": {
            "name": "get_customer_by_name", "arguments": '{"name": "John"}'}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": '{"customer_id": "C-17"}'},
        {"role": "assistant", "tool_calls": [{"id": "call_2", "type": "function", "function": {
            "name": "get_latest_order", "arguments": '{"customer_id": "C-17"}'}}]},
        {"role": "tool", "tool_call_id": "call_2", "content": '{"order_id": "O-9", "order_total": 4200}'},
        {"role": "assistant", "tool_calls": [{"id": "call_3", "type": "function", "function": {
            "name": "create_payment", "arguments": '{"amount": 4200, "customer_id": "C-17"}'}}]},
    ]
    assert ex["tools"] is tools
    assert FormatChecker().check(ex) == []


def test_openai_form_of_parallel_calls_and_a_text_reply() -> None:
    rows, tools = good_rows()
    parallel = openai_example(rows["pay-004"], tools)["messages"][2]
    assert [(c["id"], c["function"]["arguments"]) for c in parallel["tool_calls"]] == [
        ("call_1", '{"payment_id": "P-1"}'), ("call_2", '{"payment_id": "P-2"}')]
    reply = openai_example(rows["pay-edge-001"], tools)["messages"][2]
    assert reply == {"role": "assistant", "content": "Did you mean $20.00?"}


def test_hf_form_keeps_arguments_as_objects() -> None:
    rows, tools = good_rows()
    ex = hf_example(rows["pay-002"], tools)
    assert ex["messages"][2] == {"role": "assistant", "tool_calls": [
        {"type": "function", "function": {"name": "get_customer_by_name", "arguments": {"name": "John"}}}]}
    assert ex["messages"][3] == {"role": "tool", "name": "get_customer_by_name", "content": '{"customer_id": "C-17"}'}
    assert ex["tools"][0]["function"]["parameters"]["required"] == ["amount"]


def test_every_exported_line_passes_the_openai_checks(good_project: Path) -> None:
    report = build_dataset(good_project)
    checker = FormatChecker()
    lines = 0
    for split in SPLITS:
        for ex in read_rows(good_project / "datasets" / "openai" / f"{split}.jsonl"):
            assert checker.check(ex) == [], (split, ex)
            lines += 1
    assert lines == sum(report.manifest["counts"]["splits"].values()) == 19
    assert checker.report.warnings == {}
    assert report.manifest["openai_checks"]["errors"] == {}
    assert report.manifest["openai_checks"]["examples"] == 19


def test_the_three_formats_line_up(good_project: Path) -> None:
    build_dataset(good_project)
    datasets = good_project / "datasets"
    for split in SPLITS:
        canonical = read_rows(datasets / f"{split}.jsonl")
        hf = read_rows(datasets / "hf" / f"{split}.jsonl")
        openai = read_rows(datasets / "openai" / f"{split}.jsonl")
        assert len(canonical) == len(hf) == len(openai)
        for row, h, o in zip(canonical, hf, openai, strict=True):
            assert row["split"] == split
            assert h == hf_example(row, row["tools"]) and o == openai_example(row, row["tools"])


# A hermes-style tool template (the shape of Qwen2.5's): tools as JSON in the system turn,
# calls as <tool_call>{"name": ..., "arguments": {...}}</tool_call>.
HERMES = """
{%- for message in messages %}
{%- if message.role == "system" %}<|im_start|>system
{{ message.content }}
<tools>
{%- for tool in tools %}
{{ tool | tojson }}
{%- endfor %}
</tools><|im_end|>
{% elif message.tool_calls is defined %}<|im_start|>assistant
{%- for tc in message.tool_calls %}
<tool_call>
{{ {"name": tc.function.name, "arguments": tc.function.arguments} | tojson }}
</tool_call>
{%- endfor %}<|im_end|>
{% elif message.role == "tool" %}<|im_start|>user
<tool_response>
{{ message.content }}
</tool_response><|im_end|>
{% else %}<|im_start|>{{ message.role }}
{{ message.content }}<|im_end|>
{% endif %}
{%- endfor %}"""


@pytest.mark.slow  # importing transformers takes seconds
def test_hf_rows_render_through_transformers_chat_templates() -> None:
    chat_template_utils = pytest.importorskip("transformers.utils.chat_template_utils")
    rows, tools = good_rows()
    ex = hf_example(rows["pay-002"], tools)
    rendered, _ = chat_template_utils.render_jinja_template(
        conversations=[ex["messages"]], tools=ex["tools"], chat_template=HERMES)
    text = rendered[0]
    assert '<tool_call>\n{"name": "get_latest_order", "arguments": {"customer_id": "C-17"}}\n</tool_call>' in text
    assert '<tool_response>\n{"customer_id": "C-17"}\n</tool_response>' in text
    assert '"name": "create_payment"' in text.split("</tools>")[0]
