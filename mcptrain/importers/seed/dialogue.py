"""Conversations in seed documents as dialogue turns (`messages:` of an Example).

The chapter's production examples carry `context` (the conversation so far) next to
`user_query`; its training-dataset payload holds whole OpenAI conversations. Both become
`messages:` — user and assistant turns, calls and results — ending with the user turn
the example answers. A `context` that is a mapping holds facts, not turns: it becomes the
example's `context:` (date, time, timezone; every other scalar a user attribute).
"""

from __future__ import annotations

from typing import Any

from mcptrain.importers.json_document import describe
from mcptrain.importers.seed import shapes
from mcptrain.importers.seed.shapes import SeedItemError
from mcptrain.locations import Loc

FACTS = ("date", "time", "timezone")


def turns_of(messages: list[Any], loc: Loc) -> list[dict[str, Any]]:
    """OpenAI-style messages as spec turns (`user`, `assistant`, `call`/`calls`, `result`)."""
    turns: list[dict[str, Any]] = []
    for i, m in enumerate(messages):
        mloc = (*loc, i)
        if isinstance(m, str):
            turns.append({"user": m})
            continue
        if not isinstance(m, dict):
            raise SeedItemError(mloc, f"expected a message object (got {describe(m)})")
        role = m.get("role")
        if role == "system":
            continue
        if role == "user":
            turns.append({"user": shapes.read_content(m.get("content"), (*mloc, "content"))})
        elif role == "assistant":
            calls = m.get("tool_calls") or ([{"function": m["function_call"]}] if m.get("function_call") else [])
            read = [shapes.read_call(c, (*mloc, "tool_calls", j))
                    for j, c in enumerate(shapes.read_array(calls, (*mloc, "tool_calls")))]
            chapter = None if read else shapes.chapter_calls(m.get("content"), (*mloc, "content"))
            if chapter:  # the chapter's `{"tool_call": ...}` text is a call, as in the answer
                read = chapter
            elif m.get("content"):
                turns.append({"assistant": shapes.read_content(m["content"], (*mloc, "content"))})
            if len(read) == 1:
                turns.append({"call": {read[0][0]: read[0][1]}})
            elif read:
                turns.append({"calls": [{n: a} for n, a in read]})
        elif role in ("tool", "function"):
            turns.append({"result": shapes.maybe_json(m.get("content"))})
        else:
            raise SeedItemError((*mloc, "role"), f"unknown role {role!r} (expected user, assistant or tool)")
    return turns


def apply_context(item: dict[str, Any], context: Any, loc: Loc) -> None:
    """Put a seed example's `context` on the spec `item` (which has its `query`)."""
    if context is None or context == [] or context == "":
        return
    if isinstance(context, dict):
        facts = {k: context[k] for k in FACTS if isinstance(context.get(k), str)}
        if isinstance(facts.get("date"), str):
            facts["date"] = facts["date"][:10]
        user = {k: v for k, v in context.items() if k not in FACTS and isinstance(v, (str, int, float, bool))}
        item["context"] = {**facts, **({"user": user} if user else {})}
        return
    raw = [context] if isinstance(context, str) else shapes.read_array(context, loc)
    history = turns_of(raw, loc)
    if history:
        item["messages"] = [*history, {"user": item.pop("query")}]


def asked(item: dict[str, Any]) -> str:
    """What the user says in an item: its query, or every user turn of its dialogue."""
    if "query" in item:
        return str(item["query"])
    return "\n".join(str(t["user"]) for t in item.get("messages") or [] if "user" in t)
