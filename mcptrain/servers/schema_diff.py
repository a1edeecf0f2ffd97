"""The semver impact of a change to a service's tool schemas (DESIGN.md, "Registry and versions").

major: a tool or parameter removed (a rename is a removal and an addition), a type changed,
a new required parameter (or one that became required), an enum value removed;
minor: a tool, an optional parameter or an enum value added, a parameter no longer required;
patch: anything else (descriptions, titles, defaults, annotations).

Nested object properties and array items are compared too (`filter.status`, `ids[]`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Impact = Literal["major", "minor", "patch"]
IMPACTS: tuple[Impact, ...] = ("major", "minor", "patch")  # strongest first


@dataclass(frozen=True)
class Change:
    tool: str
    parameter: str | None  # dotted path inside the arguments; None: the tool itself
    what: str  # "type changed (integer -> string)", ...
    impact: Impact

    @property
    def subject(self) -> str:
        return f"{self.tool}.{self.parameter}" if self.parameter else self.tool

    def as_dict(self) -> dict[str, Any]:
        return {"tool": self.tool, "parameter": self.parameter, "change": self.what, "impact": self.impact}


def diff_tools(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[Change]:
    """Every difference between two tool lists (MCP's shape), in a stable order."""
    before = {t["name"]: t for t in old}
    after = {t["name"]: t for t in new}
    changes: list[Change] = []
    for name in before:
        if name not in after:
            changes.append(Change(name, None, "tool removed", "major"))
    for name, tool in after.items():
        if name not in before:
            changes.append(Change(name, None, "tool added", "minor"))
            continue
        changes += _tool_changes(name, before[name], tool)
    return changes


def bump_of(changes: list[Change]) -> Impact | None:
    """The strongest impact among `changes` (None: no change at all)."""
    return next((i for i in IMPACTS if any(c.impact == i for c in changes)), None)


def _tool_changes(name: str, old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    changes = _object_changes(name, None, old.get("inputSchema") or {}, new.get("inputSchema") or {})
    for key in ("description", "title", "outputSchema", "annotations"):
        if old.get(key) != new.get(key):
            changes.append(Change(name, None, f"{key} changed", "patch"))
    return changes


def _object_changes(tool: str, base: str | None, old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    props_old: dict[str, Any] = old.get("properties") or {}
    props_new: dict[str, Any] = new.get("properties") or {}
    req_old, req_new = set(old.get("required") or []), set(new.get("required") or [])
    changes: list[Change] = []
    for p in props_old:
        if p not in props_new:
            changes.append(Change(tool, _join(base, p), "parameter removed", "major"))
    for p, schema in props_new.items():
        path = _join(base, p)
        if p not in props_old:
            required = p in req_new
            changes.append(Change(tool, path, "required parameter added" if required else "optional parameter added",
                                  "major" if required else "minor"))
            continue
        if p in req_new and p not in req_old:
            changes.append(Change(tool, path, "parameter now required", "major"))
        elif p in req_old and p not in req_new:
            changes.append(Change(tool, path, "parameter no longer required", "minor"))
        changes += _value_changes(tool, path, props_old[p], schema)
    return changes


def _value_changes(tool: str, path: str, old: Any, new: Any) -> list[Change]:
    if not isinstance(old, dict) or not isinstance(new, dict):
        return [] if old == new else [Change(tool, path, "schema changed", "major")]
    changes: list[Change] = []
    if _types(old) != _types(new):
        changes.append(Change(tool, path, f"type changed ({_show(old)} -> {_show(new)})", "major"))
        return changes
    if "enum" in old or "enum" in new:
        was, now = list(old.get("enum") or []), list(new.get("enum") or [])
        removed = [v for v in was if v not in now] if "enum" in new else []
        added = [v for v in now if v not in was] if "enum" in old else []
        if removed:
            changes.append(Change(tool, path, f"enum value removed ({', '.join(map(repr, removed))})", "major"))
        if added or ("enum" in old and "enum" not in new):
            changes.append(Change(tool, path, f"enum value added ({', '.join(map(repr, added)) or 'any value'})",
                                  "minor"))
    if "properties" in old or "properties" in new:
        changes += _object_changes(tool, path, old, new)
    if isinstance(old.get("items"), dict) or isinstance(new.get("items"), dict):
        changes += _value_changes(tool, f"{path}[]", old.get("items") or {}, new.get("items") or {})
    rest = {"enum", "properties", "required", "items", "type"}
    if {k: v for k, v in old.items() if k not in rest} != {k: v for k, v in new.items() if k not in rest}:
        changes.append(Change(tool, path, "schema details changed (description, default, format, bounds)",
                              "patch"))
    return changes


def _types(schema: dict[str, Any]) -> frozenset[str]:
    raw = schema.get("type")
    if raw is None:
        return frozenset()
    return frozenset([raw] if isinstance(raw, str) else map(str, raw))


def _show(schema: dict[str, Any]) -> str:
    return "/".join(sorted(_types(schema))) or "any"


def _join(base: str | None, name: str) -> str:
    return f"{base}.{name}" if base else name
