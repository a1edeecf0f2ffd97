"""Raw model output -> tool calls.

Shapes, tried in this order: hermes `<tool_call>{...}</tool_call>` blocks (what
mcptrain trains; a missing closing tag is tolerated); an OpenAI assistant message (a
dict with `tool_calls`); bare JSON (a call object, the specs' `{tool: {args}}` form, the
design chapter's `{"tool_call": {"name": ..., "parameters": {...}}}`, or a list of any of
them for parallel calls); BFCL's Python-call syntax `[f(a=1), mod.g(b="x")]`, read with
`ast` accepting literals only (never eval).

Text that does not try to call is just text (an abstention or a question). Text that
tries and fails is `malformed`: BFCL scores an irrelevance item whose output does not
decode as a correct abstention, which rewards broken output; here it is a failure.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mcptrain.content import content_text
from mcptrain.errors import PROMPT_TOO_LONG
from mcptrain.evaluation.calls import ToolCall

MAX_CHARS = 200_000  # longer outputs are not parsed (ast and json recurse)
_END_TOKENS = ("<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<|end|>", "</s>", "<end_of_turn>", "<eos>")
_FENCE = re.compile(r"^```[\w-]*[ \t]*\n?(.*?)\n?```$", re.DOTALL)
_PY_LIST = re.compile(r"^\[\s*[A-Za-z_][\w.]*\(")
_PY_CALL = re.compile(r"^[A-Za-z_][\w.]*\(.*\)$", re.DOTALL)
_JSON_LIST = re.compile(r"^\[\s*[{\]]")
_EMBEDDED = re.compile(r'\{\s*"(tool_call|name|function)"\s*:')
_LITERAL_NAMES = {"true": True, "false": False, "null": None, "True": True, "False": False,
                  "None": None}


@dataclass(frozen=True)
class Parsed:
    """What a model said: its calls, its other text, and why it is malformed (or None)."""

    calls: tuple[ToolCall, ...] = ()
    text: str = ""
    malformed: str | None = None


class _Malformed(Exception):
    pass


def parse_output(raw: str | Mapping[str, Any] | list[Any] | None) -> Parsed:
    """Parse one model output: text, an OpenAI message dict, or a list of calls."""
    try:
        if raw is None:
            return Parsed()
        if isinstance(raw, Mapping):
            return _message(raw)
        if isinstance(raw, list):
            return Parsed(_json_calls(raw, "output"))
        if not isinstance(raw, str):
            raise _Malformed(f"output is a {type(raw).__name__}, not text or a message")
        if raw.startswith(PROMPT_TOO_LONG):
            raise _Malformed("not generated: " + raw[len(PROMPT_TOO_LONG):].strip())
        return _text(raw)
    except _Malformed as e:
        return Parsed(text=raw if isinstance(raw, str) else "", malformed=str(e))


def _message(msg: Mapping[str, Any]) -> Parsed:
    if not any(k in msg for k in ("role", "content", "tool_calls", "function_call")):
        return Parsed(_json_calls(dict(msg), "output"))
    content = content_text(msg.get("content"))
    if content is not None and not isinstance(content, str):
        raise _Malformed(f"message content is a {type(content).__name__}, not text")
    tool_calls = msg.get("tool_calls") or ([msg["function_call"]] if msg.get("function_call") else [])
    if not tool_calls:
        return _text(content or "")
    if not isinstance(tool_calls, list):
        raise _Malformed("'tool_calls' must be a list")
    calls = tuple(_call(tc, f"tool_calls[{i}]") for i, tc in enumerate(tool_calls))
    return Parsed(calls, (content or "").strip())


def _text(raw: str) -> Parsed:
    s = _strip_end(raw.strip())
    if len(s) > MAX_CHARS:
        raise _Malformed(f"output is {len(s)} characters; outputs over {MAX_CHARS} are not parsed")
    if "<tool_call>" in s:
        return _hermes(s)
    if "</tool_call>" in s:
        raise _Malformed("'</tool_call>' without an opening '<tool_call>'")
    fenced = _FENCE.match(s)
    body = fenced.group(1).strip() if fenced else s
    if body.startswith("[TOOL_CALLS]"):  # Mistral's marker
        body = body[len("[TOOL_CALLS]"):].lstrip()
    if body.startswith("{") or _JSON_LIST.match(body):
        return Parsed(_json_calls(_load_json(body, "JSON output"), "JSON output"))
    if _PY_LIST.match(body) or _PY_CALL.match(body):
        return Parsed(_python_calls(body))
    found = _EMBEDDED.search(s)
    if found:  # prose around one JSON call: "Sure! {"name": ...} Done."
        try:
            obj, end = json.JSONDecoder().raw_decode(s, found.start())
        except ValueError as e:
            raise _Malformed(f"text holds what looks like a JSON tool call, but it does not parse "
                             f"({_json_error(e)})") from None
        rest = " ".join(p for p in (s[: found.start()].strip(), s[end:].strip()) if p)
        return Parsed((_call(obj, "JSON call"),), rest)
    return Parsed(text=s)


def _strip_end(s: str) -> str:
    changed = True
    while changed:
        changed = False
        for token in _END_TOKENS:
            if s.endswith(token):
                s, changed = s[: -len(token)].rstrip(), True
    return s


def _hermes(s: str) -> Parsed:
    pieces = s.split("<tool_call>")
    texts, calls = [pieces[0]], list[ToolCall]()
    for i, piece in enumerate(pieces[1:], 1):
        # No closing tag: the block ends where the next one starts, or at the end of
        # the output (generation often stops right after the JSON).
        body, _, rest = piece.partition("</tool_call>")
        texts.append(rest)
        where = f"tool call {i}"
        body = body.strip()
        fenced = _FENCE.match(body)
        body = fenced.group(1).strip() if fenced else body
        if not body:
            raise _Malformed(f"{where} is empty")
        data = _load_json(body, where)
        calls.extend(_json_calls(data, where))
    return Parsed(tuple(calls), " ".join(t.strip() for t in texts if t.strip()))


def _load_json(body: str, where: str) -> Any:
    try:
        return json.loads(body)
    except ValueError as e:
        raise _Malformed(f"{where}: invalid JSON ({_json_error(e)})") from None
    except RecursionError:
        raise _Malformed(f"{where}: JSON is nested too deeply") from None


def _json_error(e: ValueError) -> str:
    if isinstance(e, json.JSONDecodeError):
        return f"{e.msg} at line {e.lineno} column {e.colno}"
    return str(e)  # pragma: no cover


def _json_calls(data: Any, where: str) -> tuple[ToolCall, ...]:
    if isinstance(data, list):
        return tuple(_call(item, f"{where} item {i}") for i, item in enumerate(data, 1))
    if isinstance(data, dict) and isinstance(data.get("tool_calls"), list):
        return _message(data).calls
    return (_call(data, where),)


def _call(obj: Any, where: str) -> ToolCall:
    if not isinstance(obj, dict):
        raise _Malformed(f"{where}: expected an object with 'name' and 'arguments', got {_kind(obj)}")
    if isinstance(obj.get("function"), dict):  # OpenAI: {"type": "function", "function": {...}}
        obj = obj["function"]
    elif len(obj) == 1 and isinstance(obj.get("tool_call"), dict) and "name" in obj["tool_call"]:
        obj = obj["tool_call"]  # the chapter's training data: {"tool_call": {"name", "parameters"}}
    if "name" in obj:
        name = obj["name"]
        args = obj.get("arguments", obj.get("parameters"))
    elif len(obj) == 1 and isinstance(next(iter(obj.values())), dict):  # the specs' {tool: {args}}
        ((name, args),) = obj.items()
    else:
        keys = ", ".join(repr(k) for k in list(obj)[:5])
        raise _Malformed(f"{where}: expected an object with 'name' and 'arguments' (got keys {keys})")
    if not isinstance(name, str) or not name.strip():
        raise _Malformed(f"{where}: 'name' must be a non-empty string (got {name!r})")
    if isinstance(args, str):
        try:
            args = json.loads(args) if args.strip() else {}
        except ValueError as e:
            raise _Malformed(f"{where}: arguments of {name!r} are not valid JSON ({_json_error(e)})") from None
    if args is None:
        args = {}
    if not isinstance(args, dict):
        raise _Malformed(f"{where}: arguments of {name!r} must be an object (got {_kind(args)})")
    return ToolCall(name, args)


def _python_calls(body: str) -> tuple[ToolCall, ...]:
    try:
        node = ast.parse(body, mode="eval").body
    except SyntaxError as e:
        raise _Malformed(f"Python-style call does not parse: {e.msg} (column {e.offset})") from None
    except (RecursionError, MemoryError, ValueError):
        raise _Malformed("Python-style call is nested too deeply") from None
    items = node.elts if isinstance(node, ast.List | ast.Tuple) else [node]
    calls = []
    for i, item in enumerate(items, 1):
        where = f"call {i}"
        if not isinstance(item, ast.Call):
            raise _Malformed(f"{where}: expected name(arg=value, ...), got {_source(item)}")
        name = _dotted(item.func, where)
        if item.args:
            raise _Malformed(f"{where} ({name}): positional arguments are not allowed; write name=value")
        args: dict[str, Any] = {}
        for kw in item.keywords:
            if kw.arg is None:
                raise _Malformed(f"{where} ({name}): '**' arguments are not allowed")
            if kw.arg in args:
                raise _Malformed(f"{where} ({name}): argument {kw.arg!r} is given twice")
            args[kw.arg] = _literal(kw.value, f"{where} ({name}): argument {kw.arg!r}")
        calls.append(ToolCall(name, args))
    return tuple(calls)


def _dotted(node: ast.expr, where: str) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value, where)}.{node.attr}"
    raise _Malformed(f"{where}: the function must be a name, got {_source(node)}")


def _literal(node: ast.expr, where: str) -> Any:
    if isinstance(node, ast.Constant) and isinstance(node.value, str | int | float | bool | type(None)):
        return node.value
    if isinstance(node, ast.List | ast.Tuple):
        return [_literal(e, where) for e in node.elts]
    if isinstance(node, ast.Dict):
        out = {}
        for k, v in zip(node.keys, node.values, strict=True):
            if not (isinstance(k, ast.Constant) and isinstance(k.value, str)):
                raise _Malformed(f"{where}: dict keys must be strings")
            out[k.value] = _literal(v, where)
        return out
    if (isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd)
            and isinstance(node.operand, ast.Constant)
            and type(node.operand.value) in (int, float)):
        value: Any = node.operand.value
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.Name) and node.id in _LITERAL_NAMES:
        return _LITERAL_NAMES[node.id]
    raise _Malformed(f"{where} must be a literal value, got {_source(node)}")


def _source(node: ast.AST) -> str:
    text = ast.unparse(node)
    return text if len(text) <= 40 else text[:39] + "…"


def _kind(value: Any) -> str:
    names = {bool: "a boolean", int: "a number", float: "a number", str: "a string",
             list: "a list", dict: "an object", type(None): "null"}
    return names.get(type(value), type(value).__name__)
