"""The next semantic version, from what changed since the production version, with reasons.

* **major** — a caller written for production can break: a tool or service removed or
  renamed, a parameter removed or renamed, a type narrowed or changed, a new required
  parameter (or an optional one made required), an enum value removed, a constraint
  tightened (a higher minimum, a lower maximum, a new or changed pattern or format);
* **minor** — something new, everything old still valid: a tool, service or optional
  parameter added, an enum value added, a type widened, a constraint loosened or dropped,
  a new base model or backend behind the same tools;
* **patch** — only what the model learns from changed: examples, edge cases, vocabulary,
  scenarios, a service's description or owners, a tool's description, hyperparameters.

`compare_surfaces(production, candidate)` lists every `Reason`; `next_version` applies the
highest level. The first version is 1.0.0.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from mcptrain.fingerprint import sha256_json
from mcptrain.specs.schema_walk import map_subschemas, resolve_local_ref

LEVELS = ("patch", "minor", "major")
FIRST_VERSION = "1.0.0"
SEMVER = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")
_LOWER_BOUNDS = ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties")
_UPPER_BOUNDS = ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties")
_EXACT = ("pattern", "format", "const", "multipleOf")
_WIDER = {"integer": {"number"}}  # every integer is a number: integer -> number widens


@dataclass(frozen=True)
class Reason:
    level: str  # patch | minor | major
    text: str


@dataclass(frozen=True)
class Bump:
    level: str | None  # None: nothing changed
    version: str
    reasons: list[Reason]

    def as_dict(self) -> dict[str, Any]:
        return {"level": self.level, "version": self.version,
                "reasons": [{"level": r.level, "text": r.text} for r in self.reasons]}


def next_version(production: str | None, before: dict[str, Any] | None, after: dict[str, Any]) -> Bump:
    """The version the candidate (surface `after`) gets over `production` (surface `before`)."""
    if production is None or before is None:
        return Bump("major", FIRST_VERSION, [Reason("major", "the first version of this model")])
    reasons = compare_surfaces(before, after)
    if not reasons:
        return Bump(None, production, [])
    level = max((r.level for r in reasons), key=LEVELS.index)
    return Bump(level, bump(production, level), reasons)


def bump(version: str, level: str) -> str:
    m = SEMVER.match(version)
    if m is None:
        raise ValueError(f"not a semantic version: {version!r} (expected MAJOR.MINOR.PATCH)")
    major, minor, patch = (int(x) for x in m.groups())
    if level == "major":
        return f"{major + 1}.0.0"
    if level == "minor":
        return f"{major}.{minor + 1}.0"
    return f"{major}.{minor}.{patch + 1}"


def compare_surfaces(before: dict[str, Any], after: dict[str, Any]) -> list[Reason]:
    """Every difference between two surfaces (`promotion.surface`), each with its level."""
    out: list[Reason] = []
    old, new = before["services"], after["services"]
    for name in sorted(set(old) - set(new)):
        out.append(Reason("major", f"service {name} removed (with its tools: {', '.join(old[name]['tools']) or 'none'})"))
    for name in sorted(set(new) - set(old)):
        out.append(Reason("minor", f"service {name} added (tools: {', '.join(new[name]['tools']) or 'none'})"))
    for name in sorted(set(old) & set(new)):
        out += _tools(name, old[name]["tools"], new[name]["tools"])
        out += _content(name, old[name], new[name])
    for key, word in (("base_model", "base model"), ("backend", "backend")):
        if before.get(key) != after.get(key):
            out.append(Reason("minor", f"{word} changed: {before.get(key)} -> {after.get(key)}"))
    changed = {k: (before.get("training", {}).get(k), v) for k, v in after.get("training", {}).items()
               if before.get("training", {}).get(k) != v}
    if changed:
        out.append(Reason("patch", "hyperparameters: " + ", ".join(f"{k} {a} -> {b}" for k, (a, b) in sorted(changed.items()))))
    return out


def _tools(service: str, old: dict[str, Any], new: dict[str, Any]) -> list[Reason]:
    out: list[Reason] = []
    removed, added = sorted(set(old) - set(new)), sorted(set(new) - set(old))
    renamed = _pairs(removed, added, lambda a, b: old[a]["inputSchema"] == new[b]["inputSchema"])
    for a, b in renamed:
        out.append(Reason("major", f"{service}: tool {a} renamed to {b}"))
    for name in removed:
        if name not in dict(renamed):
            out.append(Reason("major", f"{service}: tool {name} removed"))
    for name in added:
        if name not in {b for _, b in renamed}:
            out.append(Reason("minor", f"{service}: tool {name} added"))
    for name in sorted(set(old) & set(new)):
        out += _schema(f"{service}: {name}", _inlined(old[name]["inputSchema"]), _inlined(new[name]["inputSchema"]))
        if old[name]["description"] != new[name]["description"]:
            out.append(Reason("patch", f"{service}: {name}: description changed"))
    return out


def _schema(where: str, old: dict[str, Any], new: dict[str, Any]) -> list[Reason]:
    """Differences of one (sub)schema: properties, required, type, enum, constraints, items."""
    out = _type(where, old.get("type"), new.get("type")) + _enum(where, old.get("enum"), new.get("enum"))
    out += _constraints(where, old, new)
    props_old, props_new = old.get("properties") or {}, new.get("properties") or {}
    req_old, req_new = set(old.get("required") or ()), set(new.get("required") or ())
    removed, added = sorted(set(props_old) - set(props_new)), sorted(set(props_new) - set(props_old))
    renamed = _pairs(removed, added, lambda a, b: props_old[a] == props_new[b])
    for a, b in renamed:
        out.append(Reason("major", f"{where}: parameter {a} renamed to {b}"))
    for p in removed:
        if p not in dict(renamed):
            out.append(Reason("major", f"{where}: parameter {p} removed"))
    for p in added:
        if p in {b for _, b in renamed}:
            continue
        if p in req_new:
            out.append(Reason("major", f"{where}: new required parameter {p}"))
        else:
            out.append(Reason("minor", f"{where}: optional parameter {p} added"))
    for p in sorted(set(props_old) & set(props_new)):
        if p in req_new and p not in req_old:
            out.append(Reason("major", f"{where}: parameter {p} became required"))
        elif p in req_old and p not in req_new:
            out.append(Reason("minor", f"{where}: parameter {p} is no longer required"))
        out += _schema(f"{where}.{p}", props_old[p], props_new[p])
    if isinstance(old.get("items"), dict) and isinstance(new.get("items"), dict):
        out += _schema(f"{where}[]", old["items"], new["items"])
    for key in ("anyOf", "oneOf", "allOf"):  # `Optional[X]` is anyOf [X, null] in pydantic's schemas
        branches_old, branches_new = old.get(key), new.get(key)
        if branches_old == branches_new:
            continue
        if isinstance(branches_old, list) and isinstance(branches_new, list) and len(branches_old) == len(branches_new):
            for i, (x, y) in enumerate(zip(branches_old, branches_new, strict=True)):
                if isinstance(x, dict) and isinstance(y, dict):
                    out += _schema(f"{where}.{key}[{i}]", x, y)
        else:  # branches added or removed: which way it goes is not read here, so the safe side
            out.append(Reason("major", f"{where}: {key} changed"))
    for key in ("description", "default", "examples", "title"):
        if old.get(key) != new.get(key):
            out.append(Reason("patch", f"{where}: {key} changed"))
    return out


def _inlined(schema: Any, root: Any = None, refs: tuple[str, ...] = ()) -> Any:
    """`schema` with each local `$ref` ("#/$defs/Address", what pydantic writes for a
    model-typed parameter) replaced by what it points at, so a change inside a model is
    compared where it is used; a reference to itself is left as it is. Only schemas are
    walked (by keyword), so a parameter named `enum` or `default` is a parameter too."""
    root = schema if root is None else root
    if not isinstance(schema, dict):
        return schema
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref not in refs:
        target = resolve_local_ref(root, ref)
        if isinstance(target, dict):
            rest = {k: v for k, v in schema.items() if k != "$ref"}
            return _inlined({**target, **rest}, root, (*refs, ref))
    # definitions are compared where they are used, not where they are defined
    return map_subschemas(schema, lambda child: _inlined(child, root, refs), skip=("$defs", "definitions"))


def _type(where: str, old: Any, new: Any) -> list[Reason]:
    if old == new:
        return []
    a, b = _types(old), _types(new)
    if a is None:  # any type before: any type now is a narrowing
        return [Reason("major", f"{where}: type narrowed from any to {_show(b)}")]
    if b is None:
        return [Reason("minor", f"{where}: type widened from {_show(a)} to any")]
    widened = all(t in b or _WIDER.get(t, set()) & b for t in a)
    narrowed = all(t in a or _WIDER.get(t, set()) & a for t in b)
    if widened and not narrowed:
        return [Reason("minor", f"{where}: type widened from {_show(a)} to {_show(b)}")]
    if narrowed and not widened:
        return [Reason("major", f"{where}: type narrowed from {_show(a)} to {_show(b)}")]
    return [Reason("major", f"{where}: type changed from {_show(a)} to {_show(b)}")]


def _types(value: Any) -> set[str] | None:
    if value is None:
        return None
    return {str(value)} if isinstance(value, str) else {str(v) for v in value}


def _show(types: set[str] | None) -> str:
    return "any" if types is None else " | ".join(sorted(types))


def _enum(where: str, old: Any, new: Any) -> list[Reason]:
    if old == new:
        return []
    if old is None:
        return [Reason("major", f"{where}: restricted to the enum {new}")]
    if new is None:
        return [Reason("minor", f"{where}: enum dropped (any value of the type)")]
    out = [Reason("major", f"{where}: enum value {v!r} removed") for v in old if v not in new]
    out += [Reason("minor", f"{where}: enum value {v!r} added") for v in new if v not in old]
    return out


def _constraints(where: str, old: dict[str, Any], new: dict[str, Any]) -> list[Reason]:
    out = []
    for key in (*_LOWER_BOUNDS, *_UPPER_BOUNDS, *_EXACT):
        a, b = old.get(key), new.get(key)
        if a == b:
            continue
        if b is None:
            out.append(Reason("minor", f"{where}: {key} {a!r} dropped"))
        elif a is None or key in _EXACT or (b > a if key in _LOWER_BOUNDS else b < a):
            out.append(Reason("major", f"{where}: {key} tightened: {a!r} -> {b!r}" if a is not None
                              else f"{where}: {key} {b!r} added"))
        else:
            out.append(Reason("minor", f"{where}: {key} loosened: {a!r} -> {b!r}"))
    return out


def _content(service: str, old: dict[str, Any], new: dict[str, Any]) -> list[Reason]:
    out = []
    for kind, word in (("examples", "examples"), ("edge_cases", "edge cases"), ("vocabulary", "vocabulary"),
                       ("scenarios", "test scenarios"), ("service", "service.yaml (owners, description)")):
        if old["content"].get(kind) == new["content"].get(kind):
            continue
        ids_old, ids_new = set(old["ids"].get(kind, ())), set(new["ids"].get(kind, ()))
        counts = f" (+{len(ids_new - ids_old)} -{len(ids_old - ids_new)})" if kind in new["ids"] else ""
        out.append(Reason("patch", f"{service}: {word} changed{counts}"))
    return out


def _pairs(removed: list[str], added: list[str], same: Any) -> list[tuple[str, str]]:
    """Removed/added names whose bodies are equal: renames (each name paired once)."""
    pairs, used = [], set()
    for a in removed:
        match = next((b for b in added if b not in used and same(a, b)), None)
        if match is not None:
            pairs.append((a, match))
            used.add(match)
    return pairs


def surface_fingerprint(surface: dict[str, Any]) -> str:
    return sha256_json(surface)
