"""Readers for the loose JSON shapes seed documents come in.

Pure functions: each takes a value and its JSON path and returns what mcptrain's
specs want, or raises SeedItemError naming the path and what was expected instead.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel, ValidationError

from mcptrain.content import content_text
from mcptrain.errors import MCPTrainError
from mcptrain.importers.json_document import describe
from mcptrain.locations import Loc, dotted

ACTIONS = {
    "clarify": "clarify", "ask_clarification": "clarify", "ask_for_clarification": "clarify",
    "request_clarification": "clarify", "clarification": "clarify", "ask_question": "clarify",
    "ask_for_details": "ask_for_details", "request_details": "ask_for_details",
    "ask_for_missing_fields": "ask_for_details", "request_missing_fields": "ask_for_details",
    "request_more_info": "ask_for_details", "ask_for_more_info": "ask_for_details",
    "refuse": "refuse", "reject": "refuse", "decline": "refuse", "deny": "refuse",
    "no_tool": "no_tool", "no_tool_call": "no_tool", "respond_directly": "no_tool",
    "answer_directly": "no_tool", "none": "no_tool",
}
CALL_ACTIONS = {"call", "call_tool", "proceed", "execute"}
PRIORITIES = {"critical": "critical", "p0": "critical", "blocker": "critical", "high": "high",
              "p1": "high", "normal": "normal", "medium": "normal", "p2": "normal",
              "low": "normal", "p3": "normal"}
# The chapter's `source` and `quality` words (manual curation, production collection,
# failure correction, synthetic generation; quality high / medium) -> the Examples kind's.
SOURCES = {"manual": "human", "human": "human", "developer": "human", "human_curated": "human",
           "production": "production", "production_validated": "production",
           "production_correction": "production_correction", "correction": "production_correction",
           "synthetic": "synthetic", "generated": "synthetic", "imported": "imported"}
QUALITIES = {"high": "gold", "human_curated": "gold", "gold": "gold", "medium": "silver",
             "silver": "silver", "low": "bronze", "bronze": "bronze"}
_UNITS = (("cents", ("cent",), ("integer",)), ("seconds", ("in seconds",), ("integer", "number")),
          ("minutes", ("in minutes",), ("integer", "number")), ("days", ("in days",), ("integer", "number")))
# `{{ customer_id }}`, `${customer_id}`, `$customer_id`, `<customer_id>`, and the seed's own `{prev.customer_id}`
_PLACEHOLDER = re.compile(r"^\s*(?:\{\{\s*([\w.]+)\s*\}\}|\$\{([\w.]+)\}|\$([A-Za-z_][\w.]*)|<([A-Za-z_][\w.]*)>"
                          r"|\{([A-Za-z_][\w.]*)\})\s*$")


def action_of(raw: Any) -> str | None:
    """The spec's action for a seed's word for it ('ask_clarification' -> 'clarify'), or None."""
    return ACTIONS.get(re.sub(r"[\s-]+", "_", str(raw).strip().lower())) if raw is not None else None


def is_call_action(raw: Any) -> bool:
    return re.sub(r"[\s-]+", "_", str(raw).strip().lower()) in CALL_ACTIONS


def unit_of(rule: str, schema: dict[str, Any]) -> str | None:
    """`cents` from "Always convert to cents" on an integer parameter, and the like."""
    text = rule.lower()
    return next((unit for unit, words, types in _UNITS
                 if schema.get("type") in types and any(w in text for w in words)), None)


class SeedItemError(MCPTrainError):
    """One seed item cannot be converted; `loc` is its JSON path (caught per item)."""

    def __init__(self, loc: Loc, message: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.loc = loc


# Written items sit three levels below the top of a spec file, whose loader allows 64.
MAX_ITEM_DEPTH = 60


def check_item(model: type[BaseModel], item: dict[str, Any], loc: Loc) -> None:
    """Validate a converted item against its spec model; the error points at the seed item."""
    stack: list[tuple[Any, int]] = [(item, 0)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_ITEM_DEPTH:
            raise SeedItemError(loc, f"nesting is deeper than {MAX_ITEM_DEPTH} levels")
        if isinstance(value, dict):
            stack += [(v, depth + 1) for v in value.values()]
        elif isinstance(value, list):
            stack += [(v, depth + 1) for v in value]
    try:
        model.model_validate(item)
    except ValidationError as e:
        err = e.errors(include_url=False)[0]
        where = dotted(tuple(p for p in err["loc"] if not (isinstance(p, str) and ("[" in p or p.startswith("function-")))))
        msg = err["msg"].removeprefix("Value error, ")
        raise SeedItemError(loc, f"cannot convert: {where + ': ' if where else ''}{msg[0].lower()}{msg[1:]}") from None


def service_field(key: str, value: Any) -> Any:
    if key == "version":
        text = str(value).strip().removeprefix("v")
        text = text + ".0" * (2 - text.count(".")) if re.fullmatch(r"\d+(\.\d+)?", text) else text
        if not re.fullmatch(r"\d+\.\d+\.\d+([-+].*)?", text):
            raise SeedItemError((), f"expected a version like '1.2.0' (got {value!r})")
        return text
    if key == "owners":
        items = value if isinstance(value, list) else [value]
        owners = []
        for o in items:
            if isinstance(o, dict):
                o = next((o[k] for k in ("github", "team", "handle", "name", "email") if isinstance(o.get(k), str)), None)
            if not isinstance(o, str):
                raise SeedItemError((), f"expected owners as strings such as '@org/team' (got {value!r})")
            owners.append(o)
        return owners
    if key == "critical":
        if not isinstance(value, bool):
            raise SeedItemError((), f"expected true or false (got {value!r})")
        return value
    return str(value)


def row_service(row: dict[str, Any]) -> str | None:
    meta = row.get("metadata")
    found = row.get("service") or (meta.get("service") if isinstance(meta, dict) else None)
    return found if isinstance(found, str) else None


def doc_tool_names(data: dict[str, Any]) -> list[str]:
    """Names of the tools a document defines (`tool`, `tools`; MCP or OpenAI shape)."""
    tools = [data["tool"]] if "tool" in data else []
    tools += data["tools"] if isinstance(data.get("tools"), list) else []
    names = [t for t in tools if isinstance(t, str) and t]  # `"tool": "create_payment"` names it
    for tool in tools:
        if isinstance(tool, dict) and isinstance(tool.get("function"), dict):
            tool = tool["function"]
        if isinstance(tool, dict) and isinstance(tool.get("name"), str):
            names.append(tool["name"])
    return names


def read_text(row: dict[str, Any], loc: Loc, *keys: str) -> str:
    key = next((k for k in keys if k in row), keys[0])
    value = row.get(key)
    if not isinstance(value, str) or not value.strip():
        raise SeedItemError((*loc, key) if key in row else loc,
                  f"expected a non-empty string (got {describe(value)})" if key in row else f"missing {key!r}")
    return value


def read_content(value: Any, loc: Loc) -> str:
    value = content_text(value)
    if not isinstance(value, str) or not value.strip():
        raise SeedItemError(loc, f"expected text content (got {describe(value)})")
    return value


def read_array(value: Any, loc: Loc, *, non_empty: bool = False) -> list[Any]:
    if not isinstance(value, list) or (non_empty and not value):
        raise SeedItemError(loc, f"expected a{' non-empty' if non_empty else 'n'} array (got {describe(value)})")
    return value


def read_arguments(value: Any, loc: Loc) -> dict[str, Any]:
    if value is None or value == "":
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as e:
            raise SeedItemError(loc, f"arguments are not valid JSON: {e.msg} (at character {e.pos + 1})") from None
        except (ValueError, RecursionError) as e:  # 5000-digit numbers, hostile nesting
            raise SeedItemError(loc, f"arguments are not acceptable JSON: {e}") from None
    if not isinstance(value, dict):
        raise SeedItemError(loc, f"expected the arguments as an object (got {describe(value)})")
    return value


def read_call(step: Any, loc: Loc) -> tuple[str, dict[str, Any]]:
    if not isinstance(step, dict):
        raise SeedItemError(loc, f"expected a call object (got {describe(step)})")
    if isinstance(step.get("function"), dict):
        step, loc = step["function"], (*loc, "function")
    name = next((step[k] for k in ("tool", "tool_name", "name") if isinstance(step.get(k), str)), None)
    if name is None and len(step) == 1 and isinstance(next(iter(step.values())), dict):
        return next(iter(step)), next(iter(step.values()))
    if name is None:
        raise SeedItemError(loc, "a call needs 'tool' (or 'name') and 'parameters' (or 'arguments')")
    key = next((k for k in ("parameters", "arguments", "params") if k in step), "parameters")
    return name, read_arguments(step.get(key), (*loc, key))


def chapter_calls(content: Any, loc: Loc) -> list[tuple[str, dict[str, Any]]] | None:
    """The calls of an assistant turn written as the chapter's training data writes it:
    `{"tool_call": {"name", "parameters"}}` as JSON text (or a list of them for parallel
    calls); None when the content is not that (plain text is a reply)."""
    data = maybe_json(content) if isinstance(content, str) and content.lstrip()[:1] in ("{", "[") else None
    items: list[Any] = data if isinstance(data, list) else [data]
    calls = [i["tool_call"] for i in items if isinstance(i, dict) and isinstance(i.get("tool_call"), dict)]
    if not calls or len(calls) != len(items):
        return None
    return [read_call(c, loc) for c in calls]


def label(row: dict[str, Any], key: str, words: dict[str, str]) -> tuple[str | None, str | None]:
    """(the spec's word, None) for a seed's `source`/`quality`; (None, a warning) when unknown."""
    raw = row.get(key)
    if raw is None:
        return None, None
    word = words.get(re.sub(r"[\s-]+", "_", str(raw).strip().lower()))
    if word is None:
        return None, f"unknown {key} {raw!r} (expected one of {', '.join(sorted(words))}); not kept"
    return word, None


def keep_labels(diags: list[Any], doc: Any, loc: Loc, row: dict[str, Any], item: dict[str, Any]) -> None:
    """The row's `source` and `quality` in the Examples kind's words (source `imported` when
    it has none); an unknown word is a warning and is not kept."""
    for key, words, default in (("source", SOURCES, "imported"), ("quality", QUALITIES, None)):
        word, problem = label(row, key, words)
        if problem is not None:
            diags.append(doc.diagnostic((*loc, key), problem, severity="warning"))
        if word or default:
            item[key] = word or default


def maybe_json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except (ValueError, RecursionError):  # plain text results are fine
            return value
    return value


def copy_created(row: dict[str, Any], item: dict[str, Any]) -> None:
    value = row.get("created_at")
    if isinstance(value, str) and re.match(r"^\d{4}-\d{2}-\d{2}", value):
        item["created_at"] = value[:10]


def read_accuracy(value: Any, loc: Loc) -> float:
    text = str(value).strip()
    try:
        number = float(text.removesuffix("%"))
    except ValueError:
        raise SeedItemError(loc, f"expected a number between 0 and 1 (got {value!r})") from None
    if text.endswith("%") or 1 < number <= 100:
        number /= 100
    if not 0 <= number <= 1:
        raise SeedItemError(loc, f"expected a number between 0 and 1 (got {value!r})")
    return number


def fill_placeholders(value: Any, known: dict[str, Any]) -> tuple[Any, list[str]]:
    """Replace `{{ customer_id }}`-style references with what earlier results provide."""
    if isinstance(value, dict):
        out, missing = {}, []
        for k, v in value.items():
            out[k], m = fill_placeholders(v, known)
            missing += m
        return out, missing
    if isinstance(value, list):
        pairs = [fill_placeholders(v, known) for v in value]
        return [p[0] for p in pairs], [m for p in pairs for m in p[1]]
    match = _PLACEHOLDER.match(value) if isinstance(value, str) else None
    if match:
        name = next(g for g in match.groups() if g).rsplit(".", 1)[-1]
        return (known[name], []) if name in known else (value, [value])
    return value, []


def placeholder_field(value: Any) -> str | None:
    """The field a reference names (`{prev.order_total}` -> `order_total`), or None."""
    match = _PLACEHOLDER.match(value) if isinstance(value, str) else None
    return next(g for g in match.groups() if g).rsplit(".", 1)[-1] if match else None


def invented_value(field: str, schema: Any, step: int) -> Any:
    """A stand-in for a value an earlier step returned, typed by the parameter it fills."""
    kind = schema.get("type") if isinstance(schema, dict) else None
    if isinstance(schema, dict) and schema.get("enum"):
        return schema["enum"][0]
    if kind in ("integer", "number"):
        return 1000 * step + 200
    return f"{field.upper().replace('_', '-')}-{step}"


def flatten_result(result: Any, into: dict[str, Any]) -> None:
    if isinstance(result, dict):
        for k, v in result.items():
            if isinstance(v, (dict, list)):
                flatten_result(v, into)
            else:
                into.setdefault(str(k), v)
    elif isinstance(result, list):
        for v in result:
            flatten_result(v, into)


def rule_examples(raw: Any) -> list[dict[str, Any]]:
    if isinstance(raw, dict):
        return [{"user_says": str(k), "value": v} for k, v in raw.items()]
    if isinstance(raw, list):
        return [x if isinstance(x, dict) else {"user_says": str(x)} for x in raw]
    if isinstance(raw, str):
        return [{"user_says": raw}]
    return []


def term_values(entry: dict[str, Any], loc: Loc) -> dict[str, list[str]]:
    """`our_values` are canonical values; `user_might_say` maps what users say to them.

    Accepted: `{"waiting": "pending"}` (phrase -> value), `{"pending": ["waiting"]}`
    (value -> phrases) and `["waiting"]` when there is exactly one value.
    """
    ours = entry.get("our_values")
    values: dict[str, list[str]] = {}
    for v in (ours if isinstance(ours, (list, dict)) else [ours] if ours is not None else []):
        values[str(v)] = []
        if isinstance(ours, dict) and isinstance(ours[v], list):
            values[str(v)] += [str(x) for x in ours[v]]
    says = entry.get("user_might_say")
    pairs: list[tuple[str, str]] = []
    if isinstance(says, dict):
        for k, v in says.items():
            if isinstance(v, list):
                pairs += [(str(k), str(x)) for x in v]
            elif str(k) in values and str(v) not in values:
                pairs.append((str(k), str(v)))
            else:
                pairs.append((str(v), str(k)))
    elif isinstance(says, list):
        if len(values) != 1:
            raise SeedItemError((*loc, "user_might_say"), "a list of phrases needs exactly one value in 'our_values' "
                      f"to map to (got {len(values)})", hint='map each phrase: {"waiting": "pending"}')
        pairs = [(next(iter(values)), str(x)) for x in says]
    elif says is not None:
        raise SeedItemError((*loc, "user_might_say"), f"expected an object or an array (got {describe(says)})")
    for canonical, phrase in pairs:
        bucket = values.setdefault(canonical, [])
        if phrase.lower() != canonical.lower() and phrase not in bucket:
            bucket.append(phrase)
    return values
