"""The per-tool document: `service`, `version`, `tool`, `training_examples[]`
(`user_query`, `correct_tool` + `correct_parameters` or `correct_sequence`,
`common_mistakes`), `edge_cases[]` (`correct_behavior`), `domain_vocabulary`
(read by `vocabulary.py`).

A file may mix the sections; a training example in chat form goes to `training.py`.
"""

from __future__ import annotations

import json
from functools import partial
from typing import Any

from mcptrain.importers.json_document import JsonDocument, describe
from mcptrain.importers.seed import shapes
from mcptrain.importers.seed.conversion import Conversion
from mcptrain.importers.seed.dialogue import apply_context
from mcptrain.importers.seed.shapes import SeedItemError
from mcptrain.locations import Loc
from mcptrain.specs import models as s

SECTIONS = ("tool", "tools", "training_examples", "edge_cases", "domain_vocabulary", "test_scenarios")


class ToolDocument:
    name = "per-tool document"
    read_first = False

    def recognises(self, data: dict[str, Any]) -> bool:
        return any(k in data for k in SECTIONS)

    def summarise(self, data: dict[str, Any], parts: list[str]) -> list[str]:
        return parts


# ---------------------------------------------------------------- tools

def read_tools(conv: Conversion, doc: JsonDocument, service: str | None) -> None:
    """The document's `tool` and `tools`, and the `tools` of its chat-form rows."""
    found: list[tuple[Loc, Any, str | None]] = []
    if "tool" in doc.data and not isinstance(doc.data["tool"], str):  # a string names it: `check_named_tool`
        found.append((("tool",), doc.data["tool"], service))
    if isinstance(doc.data.get("tools"), list):
        found += [(("tools", i), t, service) for i, t in enumerate(doc.data["tools"])]
    for i, row in enumerate(doc.data.get("training_examples") or []):  # OpenAI rows carry `tools`
        if isinstance(row, dict) and isinstance(row.get("tools"), list):
            svc = shapes.row_service(row) or service
            found += [(("training_examples", i, "tools", j), t, svc) for j, t in enumerate(row["tools"])]
    for loc, raw, svc in found:
        conv.attempt(doc, loc, partial(_tool, conv, doc, loc, raw, svc))


def check_named_tool(conv: Conversion, doc: JsonDocument) -> None:
    """The seed's own `"tool": "create_payment"` names the tool the document is about; once
    every document's tools are read, say so if nothing defines it."""
    name = doc.data.get("tool")
    if isinstance(name, str) and name not in conv.tools:
        conv.diags.append(doc.diagnostic(("tool",), f"tool {name!r} is named but not defined in the imported "
                          "documents or the repository", severity="warning",
                          hint="import its definition too (from the MCP server's tools/list), or add it "
                               "to the service's tools.yaml"))


def _tool(conv: Conversion, doc: JsonDocument, loc: Loc, raw: Any, service: str | None) -> None:
    if not isinstance(raw, dict):
        raise SeedItemError(loc, f"expected a tool object (got {describe(raw)})")
    if isinstance(raw.get("function"), dict):  # OpenAI: {"type": "function", "function": {...}}
        loc, raw = (*loc, "function"), raw["function"]
    conv.keys(doc, loc, raw, {"name", "title", "description", "inputSchema", "input_schema",
                              "parameters", "outputSchema", "output_schema", "annotations", "type",
                              "strict"})
    tool = {k: raw[k] for k in ("name", "title", "description") if k in raw}
    tool["inputSchema"] = raw.get("inputSchema", raw.get("input_schema", raw.get("parameters")))
    if tool["inputSchema"] is None:
        tool["inputSchema"] = {"type": "object", "properties": {}}
    for key in ("outputSchema", "output_schema"):
        if key in raw:
            tool["outputSchema"] = raw[key]
    if "annotations" in raw:
        tool["annotations"] = raw["annotations"]
    shapes.check_item(s.ToolSpec, tool, loc)
    name = tool["name"]
    if name in conv.tools:
        _, schema, where = conv.tools[name]
        if schema != tool["inputSchema"]:
            conv.diags.append(doc.diagnostic((*loc, "name"), f"tool {name!r} is already defined in {where} "
                              "with a different inputSchema; not imported", severity="warning",
                              hint="compare the two and update the spec by hand"))
        return
    if service is None:
        raise SeedItemError(loc, f"cannot tell which service tool {name!r} belongs to",
                  hint='add "service" to the document, or import it with the service\'s discovery document')
    conv.tools[name] = (service, tool["inputSchema"], doc.path)
    conv.draft(service).add("tools", tool, doc)
    conv.counts[doc.path]["tool"] += 1


# ---------------------------------------------------------------- training examples

def example(conv: Conversion, doc: JsonDocument, loc: Loc, row: Any, svc: str | None, tools: list[str]) -> None:
    if not isinstance(row, dict):
        raise SeedItemError(loc, f"expected an object (got {describe(row)})")
    behaviour_only = "correct_behavior" in row and not any(
        row.get(k) for k in ("correct_tool", "correct_sequence", "correct_calls"))
    if behaviour_only:
        return edge_case(conv, doc, loc, row, svc, tools)
    conv.keys(doc, loc, row, {"id", "user_query", "query", "correct_tool", "correct_parameters",
                              "parameters", "correct_sequence", "correct_calls", "explanation",
                              "common_mistakes", "created_at", "service", "source", "quality",
                              "context"})
    default_tool = tools[0] if len(tools) == 1 else None
    item: dict[str, Any] = {"id": row.get("id"), "query": shapes.read_text(row, loc, "user_query", "query")}
    used: list[str] = []
    if row.get("correct_sequence") is not None:
        item["sequence"] = read_sequence(conv, doc, (*loc, "correct_sequence"), row["correct_sequence"])
        used = [next(iter(st["call"])) for st in item["sequence"]]
    elif row.get("correct_calls") is not None:
        calls = shapes.read_array(row["correct_calls"], (*loc, "correct_calls"))
        item["calls"] = [dict([shapes.read_call(c, (*loc, "correct_calls", j))]) for j, c in enumerate(calls)]
        used = [next(iter(c)) for c in item["calls"]]
    else:
        name = row.get("correct_tool", default_tool)
        if not isinstance(name, str) or not name:
            raise SeedItemError(loc, "an example needs 'correct_tool' and 'correct_parameters', or 'correct_sequence'")
        params = shapes.read_arguments(row.get("correct_parameters", row.get("parameters")),
                            (*loc, "correct_parameters"))
        item["call"] = {name: params}
        used = [name]
    notes: list[str] = []
    mistakes = []
    for j, m in enumerate(shapes.read_array(row.get("common_mistakes") or [], (*loc, "common_mistakes"))):
        mistake = mistake_of(conv, doc, (*loc, "common_mistakes", j), m, default_tool or used[0])
        if isinstance(mistake, str):
            notes.append(f"Common mistake: {mistake}")
        else:
            mistakes.append(mistake)
    explanation = "\n".join([*([row["explanation"]] if isinstance(row.get("explanation"), str) else []), *notes])
    if explanation:
        item["explanation"] = explanation
    if mistakes:
        item["common_mistakes"] = mistakes
    shapes.keep_labels(conv.diags, doc, loc, row, item)
    shapes.copy_created(row, item)
    apply_context(item, row.get("context"), (*loc, "context"))
    service = conv.service_for(loc, shapes.row_service(row) or svc, used)
    conv.place(doc, loc, service, "examples", item)


def read_sequence(conv: Conversion, doc: JsonDocument, loc: Loc, raw: Any) -> list[dict[str, Any]]:
    """Steps of calls (and results); also the test dataset's `expected_sequence`."""
    known: dict[str, Any] = {}
    steps: list[dict[str, Any]] = []
    for j, step in enumerate(shapes.read_array(raw, loc, non_empty=True)):
        name, args = shapes.read_call(step, (*loc, j))
        args, missing = shapes.fill_placeholders(args, known)
        if missing and steps:  # the seed's `{prev.customer_id}`: the earlier step's result is not written
            args = _invent_results(conv, doc, (*loc, j), name, args, steps, known)
        elif missing:
            conv.diags.append(doc.diagnostic((*loc, j), f"{missing[0]!r} refers to a value no earlier step's "
                              "result provides; the model would learn to write it literally",
                              severity="warning", hint="add the earlier step's 'result'"))
        out: dict[str, Any] = {"call": {name: args}}
        result = next((step[k] for k in ("result", "output", "returns") if k in step), None)
        if result is not None:
            out["result"] = result
            shapes.flatten_result(result, known)
        steps.append(out)
    return steps


def _invent_results(conv: Conversion, doc: JsonDocument, loc: Loc, name: str, args: dict[str, Any],
                    steps: list[dict[str, Any]], known: dict[str, Any]) -> dict[str, Any]:
    """Fill `{prev.field}` references with stand-in values written into the previous step's
    `result`, so the row shows the model where the value comes from; warn to replace them."""
    props = (conv.tools.get(name, ("", {}, ""))[1] or {}).get("properties") or {}
    invented: dict[str, Any] = {}
    out = dict(args)
    for param, value in args.items():
        field = shapes.placeholder_field(value)
        if field is None:
            continue
        if field not in known:
            known[field] = invented[field] = shapes.invented_value(field, props.get(param), len(steps))
        out[param] = known[field]
    if invented:
        previous = steps[-1]
        result = previous.get("result")
        previous["result"] = {**(result if isinstance(result, dict) else {}), **invented}
        conv.diags.append(doc.diagnostic(loc, f"step {len(steps) - 1}'s result is not given; stand-in values "
                          f"{json.dumps(invented)} were written for {', '.join(repr(f) for f in invented)}",
                          severity="warning", hint="replace them with what the tool really returns"))
    return out


def mistake_of(conv: Conversion, doc: JsonDocument, loc: Loc, raw: Any, tool: str) -> dict[str, Any] | str:
    if isinstance(raw, str):
        return raw
    if not isinstance(raw, dict):
        raise SeedItemError(loc, f"expected an object or a string (got {describe(raw)})")
    conv.keys(doc, loc, raw, {"wrong", "wrong_parameters", "wrong_params", "wrong_tool", "reason",
                              "why", "explanation"})
    reason = next((raw[k] for k in ("reason", "why", "explanation") if isinstance(raw.get(k), str)), None)
    if not reason:
        raise SeedItemError(loc, "a common mistake needs a 'reason'")
    name = raw.get("wrong_tool", tool)
    if "wrong" in raw:
        wrong = raw["wrong"]
        if isinstance(wrong, dict) and len(wrong) == 1 and next(iter(wrong)) in conv.tools \
                and isinstance(next(iter(wrong.values())), (dict, type(None))):
            return {"wrong": {next(iter(wrong)): next(iter(wrong.values())) or {}}, "reason": reason}
        return {"wrong": {name: shapes.read_arguments(wrong, (*loc, "wrong"))}, "reason": reason}
    key = "wrong_parameters" if "wrong_parameters" in raw else "wrong_params"
    if key not in raw and "wrong_tool" not in raw:
        raise SeedItemError(loc, "a common mistake needs 'wrong' or 'wrong_parameters'")
    return {"wrong": {name: shapes.read_arguments(raw.get(key), (*loc, key))}, "reason": reason}


# ---------------------------------------------------------------- edge cases


def edge_case(conv: Conversion, doc: JsonDocument, loc: Loc, row: Any, svc: str | None, tools: list[str]) -> None:
    if not isinstance(row, dict):
        raise SeedItemError(loc, f"expected an object (got {describe(row)})")
    conv.keys(doc, loc, row, {"id", "scenario", "user_query", "query", "correct_behavior",
                              "expected_behavior", "expect", "created_at", "tool", "service",
                              "correct_tool", "correct_sequence", "correct_calls"})
    key = next((k for k in ("correct_behavior", "expected_behavior", "expect") if k in row), "correct_behavior")
    behaviour = row.get(key)
    bloc = (*loc, key)
    if isinstance(behaviour, str):
        behaviour = {"action": behaviour}
    if not isinstance(behaviour, dict):
        raise SeedItemError(bloc, f"expected an object with 'action' (got {describe(behaviour)})")
    raw_action = behaviour.get("action")
    if raw_action is None or shapes.is_call_action(raw_action):  # an "edge case" that is really a call
        name = behaviour.get("tool", behaviour.get("correct_tool"))
        if isinstance(name, str):
            params = behaviour.get("parameters", behaviour.get("correct_parameters"))
            converted = {"user_query": shapes.read_text(row, loc, "user_query", "query"), "correct_tool": name,
                         "correct_parameters": params}
            return example(conv, doc, loc, {**converted, **{k: row[k] for k in ("id", "created_at") if k in row}},
                           svc, tools)
    action = shapes.action_of(raw_action)
    if action is None:
        raise SeedItemError((*bloc, "action") if raw_action is not None else bloc,
                  f"expected one of 'clarify', 'ask_for_details', 'refuse', 'no_tool' (got {raw_action!r})")
    conv.keys(doc, bloc, behaviour, {"action", "question", "required_fields", "reason", "response",
                                     "message", "reply"})
    expect: dict[str, Any] = {"action": action}
    for name in ("question", "reason"):
        if behaviour.get(name) is not None:
            expect[name] = behaviour[name]
    fields = behaviour.get("required_fields")
    if fields is not None:
        expect["required_fields"] = [fields] if isinstance(fields, str) else fields
    response = next((behaviour[k] for k in ("response", "message", "reply") if behaviour.get(k)), None)
    if response is not None:
        expect["response"] = response
    item: dict[str, Any] = {"id": row.get("id")}
    if isinstance(row.get("scenario"), str):
        item["scenario"] = row["scenario"]
    item["query"] = shapes.read_text(row, loc, "user_query", "query")
    tool = row.get("tool") or (tools[0] if len(tools) == 1 else None)
    if tool is not None:
        item["tool"] = tool
    item["expect"] = expect
    shapes.copy_created(row, item)
    service = conv.service_for(loc, shapes.row_service(row) or svc, [tool] if tool else [])
    conv.place(doc, loc, service, "edge_cases", item)
