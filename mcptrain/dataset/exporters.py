"""Canonical rows -> the formats trainers take, and the one JSON line encoder.

* canonical (`datasets/<split>.jsonl`): the row itself (docs/rows.md);
* OpenAI fine-tuning (`openai/<split>.jsonl`): `tool_calls[].id`, `type: function`,
  `arguments` as a JSON string, tool results answer a call id;
* Hugging Face chat template (`hf/<split>.jsonl`): what
  `tokenizer.apply_chat_template(messages, tools=tools)` takes: arguments as objects,
  tools as JSON-schema function dicts.

Every line is `json.dumps(obj, sort_keys=True, ensure_ascii=False)`; lines are what
makes a build byte-for-byte reproducible.
"""

from __future__ import annotations

import json
from typing import Any

from mcptrain.dataset.compiler import Row


def openai_example(row: Row, tools: list[dict[str, Any]]) -> dict[str, Any]:
    messages: list[dict[str, Any]] = []
    unanswered: list[tuple[str, str]] = []  # (call id, tool name), oldest first
    n = 0
    for m in row["messages"]:
        if m.get("tool_calls"):
            calls = []
            for tc in m["tool_calls"]:
                n += 1
                call_id = f"call_{n}"
                fn = tc["function"]
                unanswered.append((call_id, fn["name"]))
                calls.append({"id": call_id, "type": "function", "function": {
                    "name": fn["name"], "arguments": encode(fn["arguments"])}})
            out: dict[str, Any] = {"role": "assistant", "tool_calls": calls}
            if m.get("content"):
                out["content"] = m["content"]
            messages.append(out)
        elif m["role"] == "tool":
            match = next((u for u in unanswered if u[1] == m.get("name")), unanswered[0] if unanswered else None)
            if match is not None:
                unanswered.remove(match)
            messages.append({"role": "tool", "tool_call_id": match[0] if match else "", "content": m["content"]})
        else:
            messages.append({"role": m["role"], "content": m["content"]})
    return {"messages": messages, "tools": tools}


def hf_example(row: Row, tools: list[dict[str, Any]]) -> dict[str, Any]:
    messages = []
    for m in row["messages"]:
        if m.get("tool_calls"):
            out = {"role": "assistant", "tool_calls": m["tool_calls"]}
            if m.get("content"):
                out["content"] = m["content"]
            messages.append(out)
        else:
            messages.append(m)
    return {"messages": messages, "tools": tools}


def encode(value: Any) -> str:
    try:
        return json.dumps(value, sort_keys=True, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise ValueError(f"cannot be written as JSON: {e}") from None


class LineEncoder:
    """`encode(obj) + "\\n"`, with each distinct `tools` list serialised only once.

    Every row of a service carries the same tools list (often most of the line);
    `tools` sorts last among the keys of every format, so its cached text is spliced
    in before the closing brace, giving exactly the bytes `encode` would.
    """

    def __init__(self) -> None:
        self._tools: dict[int, tuple[Any, str]] = {}

    def line(self, obj: dict[str, Any]) -> str:
        tools = obj.get("tools")
        if tools is None:
            return encode(obj) + "\n"
        assert max(obj) == "tools", "tools must be the last key for the splice to be exact"
        cached = self._tools.get(id(tools))
        if cached is None or cached[0] is not tools:
            cached = (tools, encode(tools))
            self._tools[id(tools)] = cached
        head = encode({k: v for k, v in obj.items() if k != "tools"})
        sep = "" if head == "{}" else ", "
        return f'{head[:-1]}{sep}"tools": {cached[1]}}}\n'
