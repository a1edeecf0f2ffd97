"""The `/mcp/training-dataset` payload: `training_examples[].messages` in OpenAI chat
form (with `metadata`), one example or edge case per conversation.

An assistant turn calls tools either OpenAI's way (`tool_calls`) or the chapter's: its
content is the JSON text `{"tool_call": {"name": ..., "parameters": {...}}}` (a list of
them for parallel calls); both are calls, never a text reply. A row's `source`, `quality`,
`explanation` and `common_mistakes` are kept (`shapes.SOURCES`, `shapes.QUALITIES`).

A row's own `tools` are read with the per-tool document's tools (`tool.read_tools`).
"""

from __future__ import annotations

from typing import Any

from mcptrain.importers.json_document import JsonDocument, describe
from mcptrain.importers.seed import shapes
from mcptrain.importers.seed.conversion import Conversion
from mcptrain.importers.seed.dialogue import turns_of
from mcptrain.importers.seed.shapes import SeedItemError
from mcptrain.importers.seed.tool import mistake_of
from mcptrain.locations import Loc


class TrainingDataset:
    name = "training dataset"
    read_first = False

    def recognises(self, data: dict[str, Any]) -> bool:
        rows = data.get("training_examples")
        return isinstance(rows, list) and bool(rows) and all(isinstance(r, dict) and "messages" in r for r in rows)

    def summarise(self, data: dict[str, Any], parts: list[str]) -> list[str]:
        return parts


def message_row(conv: Conversion, doc: JsonDocument, loc: Loc, row: dict[str, Any], svc: str | None) -> None:
    conv.keys(doc, loc, row, {"messages", "tools", "id", "created_at", "metadata", "service",
                              "parallel_tool_calls", "source", "quality", "explanation", "common_mistakes"})
    msgs = shapes.read_array(row["messages"], (*loc, "messages"))
    users = [i for i, m in enumerate(msgs) if isinstance(m, dict) and m.get("role") == "user"]
    if not users:
        raise SeedItemError((*loc, "messages"), "no message with role 'user'")
    first = users[-1]  # the answer follows the last user turn; earlier turns are the dialogue
    query = shapes.read_content(msgs[first].get("content"), (*loc, "messages", first, "content"))
    history = turns_of(msgs[: first + 1], (*loc, "messages")) if len(users) > 1 else None
    turns: list[list[tuple[str, dict[str, Any], Any]]] = []
    results: dict[Any, Any] = {}
    ordered: list[Any] = []
    reply: str | None = None
    for i in range(first + 1, len(msgs)):
        m, mloc = msgs[i], (*loc, "messages", i)
        if not isinstance(m, dict):
            raise SeedItemError(mloc, f"expected a message object (got {describe(m)})")
        if m.get("role") == "assistant":
            calls = m.get("tool_calls") or ([{"function": m["function_call"]}] if m.get("function_call") else [])
            chapter = None if calls else shapes.chapter_calls(m.get("content"), (*mloc, "content"))
            if calls:
                turns.append([(*shapes.read_call(c, (*mloc, "tool_calls", j)), c.get("id") if isinstance(c, dict) else None)
                              for j, c in enumerate(shapes.read_array(calls, (*mloc, "tool_calls")))])
            elif chapter:
                turns.append([(name, args, None) for name, args in chapter])
            elif m.get("content"):
                reply = shapes.read_content(m["content"], (*mloc, "content"))
        elif m.get("role") in ("tool", "function"):
            content = shapes.maybe_json(m.get("content"))
            ordered.append(content)
            if m.get("tool_call_id") is not None:
                results[m["tool_call_id"]] = content
    item: dict[str, Any] = {"id": row.get("id"), **({"messages": history} if history else {"query": query})}
    flat = [c for turn in turns for c in turn]
    called = [c[0] for c in flat] + [n for t in history or [] for c in ([t["call"]] if "call" in t else t.get("calls", []))
                                     for n in c]
    service = conv.service_for(loc, shapes.row_service(row) or svc, called)
    if not flat:
        if reply is None:
            raise SeedItemError((*loc, "messages"), "no assistant message with tool_calls or content")
        asks = reply.rstrip().endswith("?")
        answer = {"action": "clarify", "question": reply} if asks else {"action": "no_tool", "response": reply}
        shapes.copy_created(row, item)
        if history:  # a dialogue is an example (edge cases have no turns)
            return conv.place(doc, loc, service, "examples", {**item, **answer, "source": "imported"})
        item["expect"] = answer
        return conv.place(doc, loc, service, "edge_cases", item)
    if len(turns) == 1 and len(flat) == 1:
        item["call"] = {flat[0][0]: flat[0][1]}
    elif len(turns) == 1:
        item["calls"] = [{name: args} for name, args, _ in flat]
    else:
        steps = []
        for k, (name, args, call_id) in enumerate(flat):
            step: dict[str, Any] = {"call": {name: args}}
            result = results.get(call_id) if call_id in results else (ordered[k] if k < len(ordered) else None)
            if result is not None:
                step["result"] = result
            steps.append(step)
        item["sequence"] = steps
    shapes.keep_labels(conv.diags, doc, loc, row, item)
    if isinstance(row.get("explanation"), str) and row["explanation"].strip():
        item["explanation"] = row["explanation"]
    mistakes = [mistake_of(conv, doc, (*loc, "common_mistakes", j), m, flat[0][0])
                for j, m in enumerate(shapes.read_array(row.get("common_mistakes") or [], (*loc, "common_mistakes")))]
    notes = [m for m in mistakes if isinstance(m, str)]
    if notes:
        item["explanation"] = "\n".join([*([item["explanation"]] if "explanation" in item else []),
                                         *(f"Common mistake: {n}" for n in notes)])
    if len(notes) < len(mistakes):
        item["common_mistakes"] = [m for m in mistakes if not isinstance(m, str)]
    shapes.copy_created(row, item)
    conv.place(doc, loc, service, "examples", item)

