"""The tool-call grammar, checked against the demo organisation's real tools and calls.

Acceptance is checked on text (`accept_string`), so the tokenizer only has to exist;
the tiny test tokenizer is enough. Every call the demo's data expects must be
admitted; each kind of wrong call, derived from the schemas, must be refused.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mcptrain.training.grammar import ToolCallGrammar, call_schema, export_grammars, grammar_schema
from mcptrain.training.predictor import hermes_calls


@pytest.fixture(scope="module")
def grammar(tiny_tokenizer: Any) -> ToolCallGrammar:
    return ToolCallGrammar(tiny_tokenizer, [tiny_tokenizer.convert_tokens_to_ids("<|im_end|>")])


def admits(grammar: ToolCallGrammar, tools: list[dict[str, Any]], text: str) -> bool:
    """The whole of `text`, then the end of the turn."""
    matcher = grammar.matcher(tools)
    stop = grammar.info.stop_token_ids[0]
    return bool(matcher.accept_string(text)) and bool(matcher.accept_token(stop)) and matcher.is_terminated()


def calls_of(row: dict[str, Any]) -> list[list[tuple[str, Any]]]:
    return [[(c["function"]["name"], c["function"]["arguments"]) for c in m["tool_calls"]]
            for m in row["messages"] if m.get("role") == "assistant" and m.get("tool_calls")]


def test_every_demo_call_is_admitted(grammar: ToolCallGrammar, demo_rows: list[dict[str, Any]]) -> None:
    checked = 0
    for row in demo_rows:
        for calls in calls_of(row):
            assert admits(grammar, row["tools"], hermes_calls(calls)), (row["id"], calls)
            checked += 1
    assert checked > 500  # every split, every tool of the demo


def valid_calls(demo_rows: list[dict[str, Any]]) -> dict[str, tuple[list[dict[str, Any]], dict[str, Any]]]:
    """One real call per tool: tool name -> (the row's tools, arguments)."""
    found: dict[str, tuple[list[dict[str, Any]], dict[str, Any]]] = {}
    for row in demo_rows:
        for calls in calls_of(row):
            for name, args in calls:
                found.setdefault(name, (row["tools"], args))
    return found


def schema_of(tools: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return next(t["function"]["parameters"] for t in tools if t["function"]["name"] == name)


def test_wrong_calls_are_refused(grammar: ToolCallGrammar, demo_rows: list[dict[str, Any]]) -> None:
    calls = valid_calls(demo_rows)
    assert len(calls) == 24  # every demo tool has a call somewhere
    refused = 0
    for name, (tools, args) in calls.items():
        schema = schema_of(tools, name)
        props = schema.get("properties", {})
        wrong: list[tuple[str, Any]] = [
            (name, {**args, "invented_argument": "x"}),      # an argument the schema lacks
            (f"{name}_v2", args),                            # a tool nobody offered
        ]
        for key in args:
            kind = props[key].get("type")
            if kind == "string":
                wrong.append((name, {**args, key: 12345}))   # a number for a string
            elif kind in ("integer", "number"):
                wrong.append((name, {**args, key: "12"}))     # a string for a number
            if "enum" in props[key]:
                wrong.append((name, {**args, key: "not_a_listed_value"}))
        for key in schema.get("required", []):
            wrong.append((name, {k: v for k, v in args.items() if k != key}))  # a required one missing
        for call in wrong:
            assert not admits(grammar, tools, hermes_calls([call])), call
            refused += 1
    assert refused > 100


def test_patterns_are_enforced(grammar: ToolCallGrammar, demo_rows: list[dict[str, Any]]) -> None:
    tools, args = valid_calls(demo_rows)["get_payment_status"]
    assert admits(grammar, tools, hermes_calls([("get_payment_status", {"payment_id": "P-77"})]))
    assert not admits(grammar, tools, hermes_calls([("get_payment_status", {"payment_id": "77"})]))


def test_free_text_and_several_calls_remain_possible(grammar: ToolCallGrammar,
                                                     demo_rows: list[dict[str, Any]]) -> None:
    tools, args = valid_calls(demo_rows)["get_payment_status"]
    assert admits(grammar, tools, "Happy to help! Which payment do you mean?")
    two = hermes_calls([("get_payment_status", {"payment_id": "P-1"}), ("get_payment_status", {"payment_id": "P-2"})])
    assert admits(grammar, tools, two)
    assert not admits(grammar, tools, '<tool_call>{"name": "get_payment_status", "arguments": {"payment_id": "P-1"}')
    assert admits(grammar, [], "No tools here.")
    assert not admits(grammar, [], hermes_calls([("get_payment_status", {"payment_id": "P-1"})]))


def test_properties_follow_the_canonical_sorted_order() -> None:
    schema = {"type": "object", "properties": {"b": {"type": "string", "format": "email"},
                                               "a": {"type": "object", "properties": {"z": {}, "y": {}}}}}
    out = grammar_schema(schema)
    assert list(out["properties"]) == ["a", "b"]
    assert list(out["properties"]["a"]["properties"]) == ["y", "z"]
    assert "format" not in out["properties"]["b"]  # not enforceable by token, checked by the checker
    assert schema["properties"]["b"]["format"] == "email"  # the input is not changed


def test_parameters_named_like_schema_keywords_stay_parameters(grammar: ToolCallGrammar) -> None:
    """A tool may name its parameters `format`, `properties`, `type` or `items` (an export
    format, a document's properties): the grammar walks a schema by its keywords, so
    these stay parameters, and data under `default` stays data. (A parameter named
    `format` whose schema is an object once crashed training's grammar export.)"""
    from mcptrain.training.grammar import structural_tag

    report = {"type": "object", "properties": {"title": {"type": "string"}},
              "default": {"properties": {"b": 1, "a": 2}, "format": "email"}}
    params = {"type": "object", "required": ["format"], "properties": {
        "format": {"type": "string", "enum": ["pdf", "csv"]},
        "properties": report,
        "type": {"anyOf": [{"type": "string", "format": "email"}, {"type": "integer"}]},
        "items": {"type": "array", "items": {"type": "integer"}},
    }}
    tool = {"type": "function", "function": {"name": "export_report", "description": "Export a report.",
                                             "parameters": params}}
    out = grammar_schema(params)
    assert list(out["properties"]) == ["format", "items", "properties", "type"]
    assert out["properties"]["format"] == {"type": "string", "enum": ["pdf", "csv"]}
    assert out["properties"]["properties"]["additionalProperties"] is False
    assert out["properties"]["properties"]["default"] == {"properties": {"b": 1, "a": 2}, "format": "email"}
    assert out["properties"]["type"]["anyOf"][0] == {"type": "string"}  # email: the checker's, not the grammar's
    json.dumps(structural_tag([tool]))  # what training exports next to the adapter

    def call(args: dict[str, Any]) -> str:
        return hermes_calls([("export_report", args)])

    assert admits(grammar, [tool], call({"format": "pdf", "items": [1, 2], "properties": {"title": "Q3"},
                                         "type": "ana@acme.io"}))
    assert admits(grammar, [tool], call({"format": "csv", "type": 7}))
    assert not admits(grammar, [tool], call({"format": "doc"}))  # not in the enum
    assert not admits(grammar, [tool], call({"format": "pdf", "properties": {"title": "Q3", "extra": 1}}))
    assert not admits(grammar, [tool], call({"items": [1]}))  # `format` is required


def test_the_call_schema_resolves_what_pydantic_models_define(grammar: ToolCallGrammar) -> None:
    """FastMCP (pydantic) writes a model-typed parameter as a `$ref` into the tool's own
    `$defs`. In the exported call schema those definitions sit at its root, renamed per
    tool (two tools may both define an `Address`), so jsonschema and llama.cpp's converter
    resolve every `$ref`; the grammar (each tool's schema apart) enforces the same."""
    import jsonschema

    def tool(name: str, address: dict[str, Any]) -> dict[str, Any]:
        return {"type": "function", "function": {"name": name, "description": "x", "parameters": {
            "type": "object", "required": ["to"],
            "$defs": {"Address": address, "Stop": {"type": "object", "properties": {
                "at": {"$ref": "#/$defs/Address"}}, "required": ["at"]}},
            "properties": {"to": {"$ref": "#/$defs/Address"},
                           "stops": {"type": "array", "items": {"$ref": "#/$defs/Stop"}},
                           "note": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None}}}}}

    ship = tool("ship", {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]})
    pickup = tool("pickup", {"type": "object", "properties": {"zip": {"type": "string", "pattern": "^[0-9]{5}$"}},
                             "required": ["zip"]})
    schema = call_schema([ship, pickup])
    assert set(schema["$defs"]) == {"ship.Address", "ship.Stop", "pickup.Address", "pickup.Stop"}
    jsonschema.Draft202012Validator.check_schema(schema)
    valid = jsonschema.Draft202012Validator(schema)
    good = {"name": "ship", "arguments": {"note": None, "stops": [{"at": {"city": "Dijon"}}], "to": {"city": "Lyon"}}}
    assert valid.is_valid(good)
    assert valid.is_valid({"name": "pickup", "arguments": {"to": {"zip": "69001"}}})
    for wrong in ({"name": "ship", "arguments": {"to": {"city": "Lyon", "state": "TX"}}},  # a key the model lacks
                  {"name": "ship", "arguments": {"to": {"city": "Lyon"}, "stops": [{"at": {}}]}},  # city missing
                  {"name": "pickup", "arguments": {"to": {"zip": "690"}}},  # pickup's own Address
                  {"name": "pickup", "arguments": {"to": {"city": "Lyon"}}}):  # ship's Address is not pickup's
        assert not valid.is_valid(wrong), wrong
    tree = {"type": "function", "function": {"name": "tree", "description": "x", "parameters": {
        "type": "object", "properties": {"label": {"type": "string"}, "children": {"type": "array",
                                                                                 "items": {"$ref": "#"}}}}}}
    nested = jsonschema.Draft202012Validator(call_schema([ship, tree]))  # a model that holds itself
    assert nested.is_valid({"name": "tree", "arguments": {"label": "a", "children": [{"label": "b"}]}})
    assert not nested.is_valid({"name": "tree", "arguments": {"children": [{"label": 1}]}})
    assert admits(grammar, [ship], hermes_calls([("ship", good["arguments"])]))
    assert not admits(grammar, [ship], hermes_calls([("ship", {"to": {"city": "Lyon", "state": "TX"}})]))


def test_serving_files_are_written_per_service(tmp_path: Path, demo_rows: list[dict[str, Any]]) -> None:
    written = export_grammars(tmp_path, demo_rows)
    assert "payment-service.structural_tag.json" in written
    assert len(written) == 10  # four services and the demo's order+payment workflow, two files each
    assert "order-service+payment-service.structural_tag.json" in written
    tag = json.loads((tmp_path / "payment-service.structural_tag.json").read_text(encoding="utf-8"))
    assert tag["format"]["triggers"] == ["<tool_call>"]
    assert len(tag["format"]["tags"]) == 6
    schema = json.loads((tmp_path / "payment-service.tool_call.schema.json").read_text(encoding="utf-8"))
    assert schema == json.loads(json.dumps(call_schema(next(r["tools"] for r in demo_rows
                                                            if r["service"] == "payment-service"))))


def test_the_call_schema_validates_real_calls_and_refuses_wrong_ones(demo_rows: list[dict[str, Any]]) -> None:
    import jsonschema

    for name, (tools, args) in valid_calls(demo_rows).items():
        schema = call_schema(tools)
        jsonschema.validate({"name": name, "arguments": args}, schema)
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate({"name": name, "arguments": {**args, "invented_argument": 1}}, schema)
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate({"name": f"{name}_v2", "arguments": args}, schema)


def test_a_cross_service_tool_list_gets_its_own_serving_files(tmp_path: Path,
                                                              demo_rows: list[dict[str, Any]]) -> None:
    pay = next(r for r in demo_rows if r["service"] == "payment-service")
    order = next(r for r in demo_rows if r["service"] == "order-service")
    both = {**pay, "services": ["payment-service", "order-service"], "tools": pay["tools"] + order["tools"]}
    written = export_grammars(tmp_path, [pay, both])
    assert written == ["payment-service.structural_tag.json", "payment-service.tool_call.schema.json",
                       "payment-service+order-service.structural_tag.json",
                       "payment-service+order-service.tool_call.schema.json"]
    tag = json.loads((tmp_path / "payment-service+order-service.structural_tag.json").read_text(encoding="utf-8"))
    assert len(tag["format"]["tags"]) == len(both["tools"])


def test_compiled_grammars_are_kept_within_a_byte_budget(tiny_tokenizer: Any) -> None:
    """A long-lived predictor compiles a grammar per narrowed tool list; what it keeps is bounded."""
    budget = 512 << 10
    grammar = ToolCallGrammar(tiny_tokenizer, [tiny_tokenizer.convert_tokens_to_ids("<|im_end|>")],
                              cache_bytes=budget)
    made = 0
    for i in range(40):
        tools = [{"name": f"tool_{i}", "inputSchema": {
            "type": "object", "properties": {"id": {"type": "string", "pattern": f"^T-{i}[0-9]+$"}},
            "required": ["id"]}}]
        made += grammar.compile(tools).memory_size_bytes
        matcher = grammar.matcher(tools)
        assert matcher.accept_string(f'<tool_call>{{"name": "tool_{i}", "arguments": {{"id": "T-{i}7"}}}}</tool_call>')
        assert grammar.compiler.get_cache_size_bytes() <= budget
    assert made > 2 * budget  # the budget was reached, so something was let go
    again = grammar.matcher([{"name": "tool_0", "inputSchema": {
        "type": "object", "properties": {"id": {"type": "string", "pattern": "^T-0[0-9]+$"}}, "required": ["id"]}}])
    assert not again.accept_string('<tool_call>{"name": "tool_1"')  # an evicted grammar is compiled again, not mixed up
