"""A JSON file being imported, and where in it a JSON path is (`line:col`).

The standard `json` module gives positions only for syntax errors, so a path's
position is found by walking the text with `JSONDecoder.raw_decode` — only when an
error needs it, so the happy path pays nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from mcptrain.errors import Diagnostic
from mcptrain.locations import Loc, dotted

MAX_BYTES = 64 * 1024 * 1024


def describe(value: Any) -> str:
    """A value's JSON type, for messages: 'an object', 'a string', ..."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    return "a string" if isinstance(value, str) else "null"


@dataclass
class JsonDocument:
    path: str  # as shown in messages
    text: str
    data: dict[str, Any]
    _starts: dict[Loc, int] = field(default_factory=dict, repr=False)

    def position(self, loc: Loc) -> tuple[int, int]:
        """1-based line and column of the value at `loc`, or of the deepest part that exists."""
        at = self._offset(loc)
        return self.text.count("\n", 0, at) + 1, at - (self.text.rfind("\n", 0, at) + 1) + 1

    def diagnostic(self, loc: Loc, message: str, *, severity: Literal["error", "warning"] = "error",
                   hint: str | None = None) -> Diagnostic:
        line, col = self.position(loc)
        return Diagnostic(self.path, line, col, dotted(loc), message, severity=severity, hint=hint)

    def _offset(self, loc: Loc) -> int:
        decoder, text = json.JSONDecoder(), self.text
        at = _skip_ws(text, 0)
        for depth in range(1, len(loc) + 1):
            known = self._starts.get(loc[:depth])
            if known is None:
                try:
                    known = _find_child(decoder, text, at, loc[:depth], self._starts)
                except (ValueError, IndexError):
                    known = None
                if known is None:
                    break
            at = known
        return at


def _skip_ws(text: str, i: int) -> int:
    while i < len(text) and text[i] in " \t\r\n":
        i += 1
    return i


def _find_child(decoder: json.JSONDecoder, text: str, at: int, loc: Loc, starts: dict[Loc, int]) -> int | None:
    """Offset of `loc[-1]` inside the container at `at`; remembers every sibling passed."""
    part, parent = loc[-1], loc[:-1]
    opener = text[at]
    if (opener, isinstance(part, int)) not in (("{", False), ("[", True)):
        return None
    i, n = _skip_ws(text, at + 1), 0
    while i < len(text) and text[i] not in "}]":
        key: Any
        if opener == "{":
            key, i = decoder.raw_decode(text, i)
            i = _skip_ws(text, _skip_ws(text, i) + 1)  # past the ':'
        else:
            key, n = n, n + 1
        starts.setdefault((*parent, key), i)
        if key == part:
            return i
        _, i = decoder.raw_decode(text, i)
        i = _skip_ws(text, i)
        if i < len(text) and text[i] == ",":
            i = _skip_ws(text, i + 1)
    return None


def read_json(path: Path, shown: str, diags: list[Diagnostic]) -> JsonDocument | None:
    """Parse one JSON object file; a problem becomes a Diagnostic and the result None."""
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            diags.append(Diagnostic(shown, 1, 1, "", f"file is {size / 1048576:.1f} MiB; "
                                    f"imported documents are limited to {MAX_BYTES // 1048576} MiB"))
            return None
        raw = path.read_bytes()
    except OSError as e:
        diags.append(Diagnostic(shown, 1, 1, "", f"cannot read file: {e.strerror}"))
        return None
    return parse_json(raw, shown, diags)


def parse_json(raw: bytes, shown: str, diags: list[Diagnostic]) -> JsonDocument | None:
    """`read_json` for bytes already in hand (a downloaded payload)."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        col = e.start - (raw.rfind(b"\n", 0, e.start) + 1) + 1
        diags.append(Diagnostic(shown, line, col, "", f"file is not valid UTF-8 (byte 0x{raw[e.start]:02x})"))
        return None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        diags.append(Diagnostic(shown, e.lineno, e.colno, "", f"invalid JSON: {e.msg}"))
        return None
    except RecursionError:
        diags.append(Diagnostic(shown, 1, 1, "", "invalid JSON: nesting is too deep"))
        return None
    except ValueError as e:  # e.g. an integer of more than 4300 digits
        diags.append(Diagnostic(shown, 1, 1, "", f"invalid JSON: {e}"))
        return None
    if not isinstance(data, dict):
        diags.append(Diagnostic(shown, 1, 1, "", f"expected a JSON object at the top level (got {describe(data)})"))
        return None
    if _depth(data) > MAX_DEPTH:
        diags.append(Diagnostic(shown, 1, 1, "", f"invalid document: nesting is deeper than {MAX_DEPTH} levels"))
        return None
    return JsonDocument(shown, text, data)


MAX_DEPTH = 64  # as for YAML specs (specs/yaml.py): no seed document nests half as deep


def _depth(data: Any) -> int:
    deepest, stack = 0, [(data, 1)]
    while stack:
        value, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth > MAX_DEPTH:
            return depth
        children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return deepest
