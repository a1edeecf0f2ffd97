"""Re-sampled literal values: training rows whose ids and counts are fresh every time.

A template that crosses three phrasings with two customer ids teaches the model those
two ids as much as the phrasing. With `data.resample_values: true`, each training row's
argument values that the query states literally are replaced by fresh values of the
same shape that still satisfy the parameter's schema:

* strings with a `pattern` (ids such as `C-1042`, `INV-88`): each digit becomes a
  random digit (no leading zero), letters and punctuation are kept (they are usually
  the id's fixed prefix); the result must match the pattern, else the value is left
  as it was;
* integers (counts, quantities) written as a number in the query: a random integer
  of the same number of digits within `minimum`/`maximum`.

Values the query does not state literally (amounts converted to cents, enum values
chosen from synonyms, dates resolved from words) are left alone: the model must learn
the conversion, not copy. The new value replaces the old everywhere in the row (query,
calls, tool results), so a multi-step row stays consistent. Only training rows change;
the scored splits keep the values their authors wrote. Deterministic: the random
stream is seeded by the split seed and the row id.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from typing import Any

TRIES = 12


def resample_row(row: dict[str, Any], seed: int,
                 tools: list[dict[str, Any]] | None = None) -> dict[str, Any] | None:
    """A copy of `row` with its literal values re-sampled, or None when it has none.
    `tools`: the tools whose schemas apply (default: the row's own `tools`)."""
    messages = row.get("messages") or []
    query = next((m.get("content") or "" for m in messages if m.get("role") == "user"), "")
    schemas = {_name(t): (_function(t).get("parameters") or {}) for t in (tools if tools is not None else row.get("tools")) or []}
    rng = random.Random(f"{seed}:{row.get('id')}")
    strings: dict[str, str] = {}
    integers: dict[int, int] = {}
    for message in messages:
        for call in message.get("tool_calls") or []:
            function = call.get("function", {})
            schema = schemas.get(function.get("name"), {})
            for value, sub in _values(function.get("arguments"), schema):
                if isinstance(value, str) and isinstance(sub.get("pattern"), str) and value in query:
                    if value not in strings:
                        fresh = _fresh_string(value, sub["pattern"], query, rng)
                        if fresh is not None:
                            strings[value] = fresh
                elif (type(value) is int and sub.get("type") == "integer" and value not in integers
                      and len(_number_at(str(value)).findall(query)) == 1):
                    fresh_int = _fresh_int(value, sub, query, rng)
                    if fresh_int is not None:
                        integers[value] = fresh_int
    if not strings and not integers:
        return None
    out = dict(row)
    out["messages"] = [_replace_message(m, strings, integers, schemas) for m in messages]
    return out


def _replace_message(message: dict[str, Any], strings: dict[str, str], integers: dict[int, int],
                     schemas: dict[str, Any]) -> dict[str, Any]:
    out = dict(message)
    if isinstance(out.get("content"), str):
        text = _replace_text(out["content"], strings)
        if out.get("role") == "user":
            for old, new in integers.items():
                text = _number_at(str(old)).sub(str(new), text)
        out["content"] = text
    if out.get("tool_calls"):
        calls = []
        for call in out["tool_calls"]:
            function = dict(call.get("function", {}))
            function["arguments"] = _replace_value(function.get("arguments"),
                                                   schemas.get(str(function.get("name")), {}), strings, integers)
            calls.append({**call, "function": function})
        out["tool_calls"] = calls
    return out


def _replace_value(value: Any, schema: Any, strings: dict[str, str], integers: dict[int, int]) -> Any:
    schema = schema if isinstance(schema, dict) else {}
    if isinstance(value, str):
        return _replace_text(value, strings)
    if type(value) is int and schema.get("type") == "integer":
        return integers.get(value, value)
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        return {k: _replace_value(v, props.get(k, {}), strings, integers) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace_value(v, schema.get("items", {}), strings, integers) for v in value]
    return value


def _replace_text(text: str, strings: dict[str, str]) -> str:
    if not strings:
        return text
    pattern = re.compile("|".join(re.escape(k) for k in sorted(strings, key=len, reverse=True)))
    return pattern.sub(lambda m: strings[m.group(0)], text)


def _values(value: Any, schema: Any) -> Iterator[tuple[Any, dict[str, Any]]]:
    """(value, its schema) for every leaf of a call's arguments."""
    schema = schema if isinstance(schema, dict) else {}
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        for key, item in value.items():
            yield from _values(item, props.get(key, {}))
    elif isinstance(value, list):
        for item in value:
            yield from _values(item, schema.get("items", {}))
    else:
        yield value, schema


def _fresh_string(value: str, pattern: str, query: str, rng: random.Random) -> str | None:
    try:
        compiled = re.compile(pattern)
    except re.error:
        return None
    for _ in range(TRIES):
        fresh = "".join(_like(c, rng, first=i == 0 or not value[i - 1].isdigit()) for i, c in enumerate(value))
        if fresh != value and fresh not in query and compiled.search(fresh):
            return fresh
    return None


def _like(char: str, rng: random.Random, *, first: bool) -> str:
    if char.isdigit():
        return rng.choice("123456789" if first else "0123456789")
    return char


def _fresh_int(value: int, schema: dict[str, Any], query: str, rng: random.Random) -> int | None:
    digits = len(str(abs(value)))
    low = max(10 ** (digits - 1) if digits > 1 else 1, _bound(schema, "minimum", -(10**18)))
    high = min(10**digits - 1, _bound(schema, "maximum", 10**18))
    if value < 0 or low >= high:
        return None
    for _ in range(TRIES):
        fresh = rng.randint(low, high)
        if fresh != value and not _number_at(str(fresh)).search(query):
            return fresh
    return None


def _bound(schema: dict[str, Any], key: str, default: int) -> int:
    bound = schema.get(key)
    return int(bound) if isinstance(bound, int | float) and not isinstance(bound, bool) else default


def _number_at(number: str) -> re.Pattern[str]:
    """`number` standing alone: not part of a longer number, an id or a decimal."""
    return re.compile(rf"(?<![\w.,$€£-]){re.escape(number)}(?![\w]|[.,]\d)")


def _function(tool: dict[str, Any]) -> dict[str, Any]:
    function = tool.get("function", tool)
    return function if isinstance(function, dict) else {}


def _name(tool: dict[str, Any]) -> str:
    return str(_function(tool).get("name", ""))
