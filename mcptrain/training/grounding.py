"""Grounded identifiers: a call may only name ids the conversation holds.

The commonest wrong call of a small fine-tuned model is a well-formed call with an
invented id: asked "Refund the customer", it writes `refund_payment(payment_id="P-123456789")`
instead of asking which payment. An identifier is never something a model can know; it
comes from the user, the system turn's context or an earlier tool result. So, under
constrained decoding, every string parameter whose `pattern` requires a digit (`^P-[0-9]+$`,
`^ORD-\\d+$`: what ids look like) is narrowed to the values matching that pattern that
occur in the conversation so far (an `enum`), and a tool that *requires* such an id when
the conversation holds none cannot be called at all: the grammar leaves the model a text
answer, which is where "which payment?" belongs. A property that is optional and has no
value is dropped.

Only patterns that require a digit count as identifiers: `^[A-Z]{2}$` (a country code) is
derived from "London" as often as copied, while an id with digits is copied or invented.
Strings of `format: email` or `format: uuid` are identifiers too (an address or a uuid
is copied, never derived); `date` and other formats are not ("next Tuesday").
Everything else in the schema (enums, types, other formats) is the grammar's usual business.
On the demo organisation's training and validation rows every such value of every
expected call occurs in the conversation before the call (578 of 578), which is the
property this rule relies on; `evaluation.ground_identifiers: false` turns it off.

Stated values (`evaluation.stated_values`) are the converse, for a parameter a model
leaves out: an optional string parameter with an `enum` becomes required when the user
says one of its values in so many words ("send it express" and `shipping: [standard,
express, overnight]`; `left_company` said as "left company"). Which value it takes is
still the model's choice among the enum. On the demo's training and validation rows,
an optional enum parameter whose value the user states is in the expected call 90 times
of 92; the rule is chosen or not on the validation split (README).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

_DIGIT_CLASS = re.compile(r"\\d|0-9")


@lru_cache(maxsize=512)
def identifier_regex(pattern: str) -> re.Pattern[str] | None:
    """A regex that finds `pattern`'s values inside text, or None when `pattern` does not
    look like an id's (it requires no digit) or is not a regex Python can search with."""
    if not _DIGIT_CLASS.search(pattern):
        return None
    core = pattern.removeprefix("^").removesuffix("$")
    try:
        # Not inside a longer run of id characters: "U-12" is not a value in "U-123".
        return re.compile(rf"(?<![\w-])(?:{core})(?![\w-])")
    except re.error:
        return None


def conversation_text(row: dict[str, Any]) -> str:
    """Everything the prompt says before the assistant's turn: message texts, earlier calls'
    arguments and tool results (what an id may be copied from)."""
    from mcptrain.training.prompt import prompt_messages

    parts: list[str] = []
    for message in prompt_messages(row):
        content = message.get("content")
        if content is not None:
            parts.append(content if isinstance(content, str) else json.dumps(content, ensure_ascii=False))
        for call in message.get("tool_calls") or []:
            parts.append(json.dumps(call, ensure_ascii=False))
    return "\n".join(parts)


def user_text(row: dict[str, Any]) -> str:
    """What the user said before the assistant's turn (the only place a value is *stated*)."""
    from mcptrain.training.prompt import prompt_messages

    return "\n".join(m["content"] for m in prompt_messages(row)
                     if m.get("role") == "user" and isinstance(m.get("content"), str))


def stated(value: str, text: str) -> bool:
    """Whether `text` says `value` as words: case-insensitive, `_` and `-` read as spaces."""
    words = re.split(r"[_\s-]+", value.strip().lower())
    if not any(words):
        return False
    phrase = r"[_\s-]+".join(re.escape(w) for w in words if w)
    return re.search(rf"(?<![\w]){phrase}(?![\w])", text.lower()) is not None


def require_stated(tools: Sequence[dict[str, Any]] | None, text: str) -> list[dict[str, Any]]:
    """`tools` with every optional string-enum parameter whose value `text` states made
    required (top-level parameters; the enum itself is left as it is)."""
    from mcptrain.training.grammar import tool_function

    out = []
    for tool in tools or []:
        function = tool_function(tool)
        parameters = (function or {}).get("parameters") or {}
        props = parameters.get("properties") if isinstance(parameters, dict) else None
        if not function or not isinstance(props, dict):
            out.append(tool)
            continue
        required = list(parameters.get("required") or [])
        added = [name for name, sub in props.items()
                 if name not in required and isinstance(sub, dict) and sub.get("type") == "string"
                 and isinstance(sub.get("enum"), list)
                 and any(isinstance(v, str) and stated(v, text) for v in sub["enum"])]
        if not added:
            out.append(tool)
            continue
        new_function = {**function, "parameters": {**parameters, "required": required + added}}
        out.append({**tool, "function": new_function} if "function" in tool else new_function)
    return out


def found_values(regex: re.Pattern[str], text: str) -> list[str]:
    """The distinct matches of `regex` in `text`, in order of first appearance."""
    return list(dict.fromkeys(m.group(0) for m in regex.finditer(text)))


class _Ungrounded(Exception):
    """A required identifier has no value in the conversation."""


# Formats whose values are copied, never derived: found in text like a pattern's ids.
FORMATS = {
    "email": re.compile(r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?![\w-])"),
    "uuid": re.compile(r"(?<![\w-])[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}(?![\w-])"),
}


def value_regex(node: dict[str, Any]) -> re.Pattern[str] | None:
    """How to find the values of a string schema that holds an identifier, or None."""
    if node.get("type") != "string":
        return None
    pattern = node.get("pattern")
    if isinstance(pattern, str) and (regex := identifier_regex(pattern)):
        return regex
    fmt = node.get("format")
    return FORMATS.get(fmt) if isinstance(fmt, str) else None


def _ground(node: Any, text: str) -> Any:
    if not isinstance(node, dict):
        return node
    if regex := value_regex(node):
        values = found_values(regex, text)
        if not values:
            raise _Ungrounded
        out = {k: v for k, v in node.items() if k not in ("pattern", "format")}
        out["enum"] = values
        return out
    out = dict(node)
    props = node.get("properties")
    if isinstance(props, dict):
        required = set(node.get("required") or [])
        kept = {}
        for name, sub in props.items():
            try:
                kept[name] = _ground(sub, text)
            except _Ungrounded:
                if name in required:
                    raise
        out["properties"] = kept
    if isinstance(node.get("items"), dict):
        try:
            out["items"] = _ground(node["items"], text)
        except _Ungrounded:
            if int(node.get("minItems") or 0) > 0:
                raise
            out["maxItems"] = 0
    return out


def ground_tools(tools: Sequence[dict[str, Any]] | None, text: str) -> list[dict[str, Any]]:
    """`tools` as the grammar should offer them after `text`: identifier parameters narrowed
    to the ids `text` holds, and tools needing an id it does not hold left out."""
    from mcptrain.training.grammar import tool_function

    grounded = []
    for tool in tools or []:
        function = tool_function(tool)
        if not function:
            continue
        try:
            parameters = _ground(function.get("parameters") or {}, text)
        except _Ungrounded:
            continue
        new_function = {**function, "parameters": parameters}
        grounded.append({**tool, "function": new_function} if "function" in tool else new_function)
    return grounded
