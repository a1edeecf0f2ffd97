"""Which tools a row offers, and under which names.

A row offers the tools of its own service, of the services its service `uses`, of the
services it lists in `services:`, and of every service whose tool it calls — unless it
lists its own `tools:` (names of its service's tools, or inline definitions such as an
imported BFCL item's functions): then exactly those. When two
offered services have a tool of the same name, both are offered qualified, the way MCP
clients that connect to several servers tell them apart: `<service>__<tool>` (characters
outside `[A-Za-z0-9_-]` become `_`, so the name stays a valid OpenAI function name). A
bare name that clashes means the row's own service's tool; another service's clashing
tool is written qualified in the spec too. The same names appear in the prompt, the
canonical row, the exports, the grammar and the checker.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mcptrain.specs import models as s

QUALIFIER = "__"
_INVALID = re.compile(r"[^A-Za-z0-9_-]")
MAX_NAME = 64  # OpenAI's limit on function names


def qualified_name(service: str, tool: str) -> str:
    """`<service>__<tool>`, made a valid OpenAI function name (stable: a pure function)."""
    name = _INVALID.sub("_", f"{service}{QUALIFIER}{tool}")
    if len(name) <= MAX_NAME:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[: MAX_NAME - 9]}_{digest}"


@dataclass(frozen=True)
class OfferedTool:
    service: str
    spec: s.ToolSpec
    offered: str  # the name the row offers it under

    @property
    def name(self) -> str:
        return self.spec.name


class ScopeError(ValueError):
    """A tool name a row cannot use; `hint` suggests the fix."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


@dataclass
class ToolIndex:
    """Every service's tools (toolset order), its `uses`, and which services define a name."""

    tools: dict[str, list[s.ToolSpec]] = field(default_factory=dict)
    uses: dict[str, list[str]] = field(default_factory=dict)
    owners: dict[str, list[str]] = field(default_factory=dict)  # tool name -> services

    @classmethod
    def build(cls, services: Mapping[str, Iterable[s.ToolSpec]],
              uses: Mapping[str, Iterable[str]] | None = None) -> ToolIndex:
        index = cls()
        for service in sorted(services):
            specs = list(services[service])
            index.tools[service] = specs
            for spec in specs:
                index.owners.setdefault(spec.name, []).append(service)
        for service, used in (uses or {}).items():
            index.uses[service] = [u for u in used if u != service]
        return index

    def by_qualified(self, name: str) -> tuple[str, s.ToolSpec] | None:
        if QUALIFIER not in name:
            return None
        for service, specs in self.tools.items():
            for spec in specs:
                if qualified_name(service, spec.name) == name:
                    return service, spec
        return None

    def restricted(self, own: str, tools: list[str | s.ToolSpec]) -> Scope:
        """The scope of an item with its own `tools:`: exactly those, by their own names
        (names of its service's tools, or inline definitions); unknown names are left out
        (the validator reports them)."""
        scope = Scope(self, own if own in self.tools else None, [own])
        by_name = {t.name: t for t in self.tools.get(own, [])}
        specs = [entry if isinstance(entry, s.ToolSpec) else by_name.get(entry) for entry in tools]
        scope.tools = []
        scope.by_offered = {}
        for spec in specs:
            if spec is not None and spec.name not in scope.by_offered:
                tool = OfferedTool(own, spec, spec.name)
                scope.tools.append(tool)
                scope.by_offered[spec.name] = tool
        scope.restricted = True
        return scope

    def scope(self, own: str, declared: Iterable[str] = (), called: Iterable[str] = ()) -> Scope:
        """The row's scope; a called name of a service not yet in it pulls that service in
        when exactly one service defines it (else the name must be qualified)."""
        services = [own, *self.uses.get(own, []), *declared]
        for name in called:
            if name in self.owners:
                owners = self.owners[name]
                if not any(o in services for o in owners) and len(owners) == 1:
                    services.append(owners[0])
            else:
                found = self.by_qualified(name)
                if found is not None:
                    services.append(found[0])
        unique = [own, *sorted({x for x in services if x != own and x in self.tools})]
        return Scope(self, own if own in self.tools else None, unique)


class Scope:
    """The tools one row offers, in order: its own service's, then the others' by name."""

    def __init__(self, index: ToolIndex, own: str | None, services: list[str]) -> None:
        self.own = own
        self.services = [x for x in services if x in index.tools]
        counts: dict[str, int] = {}
        for service in self.services:
            for spec in index.tools[service]:
                counts[spec.name] = counts.get(spec.name, 0) + 1
        self.tools: list[OfferedTool] = []
        self.by_offered: dict[str, OfferedTool] = {}
        for service in self.services:
            for spec in index.tools[service]:
                offered = spec.name if counts[spec.name] == 1 else qualified_name(service, spec.name)
                tool = OfferedTool(service, spec, offered)
                self.tools.append(tool)
                self.by_offered[offered] = tool
        self.index = index
        self.restricted = False  # the item lists its own `tools:`
        self.refs: dict[str, Any] = {}  # the validator's checked definitions of those (by name)

    def resolve(self, name: str) -> OfferedTool:
        """The offered tool a spec's call `name` means; ScopeError when it is none."""
        if name in self.by_offered:
            return self.by_offered[name]
        if self.restricted:
            from mcptrain.suggestions import did_you_mean

            raise ScopeError(f"unknown tool {name!r} (not among the tools this item offers)",
                             hint=did_you_mean(name, list(self.by_offered)))
        qualified = self.index.by_qualified(name)
        if qualified is not None and qualified[0] in self.services:
            return next(t for t in self.tools if (t.service, t.name) == (qualified[0], qualified[1].name))
        clashing = [t for t in self.tools if t.name == name]
        own = next((t for t in clashing if t.service == self.own), None)
        if own is not None:
            return own
        if clashing:
            raise ScopeError(
                f"tool {name!r} is offered by several services ({', '.join(t.service for t in clashing)})",
                hint="write it qualified: " + " or ".join(repr(t.offered) for t in clashing))
        owners = self.index.owners.get(name, [])
        if len(owners) > 1:
            raise ScopeError(f"tool {name!r} is defined by several services ({', '.join(owners)})",
                             hint="write it qualified: " + " or ".join(
                                 repr(qualified_name(o, name)) for o in owners))
        from mcptrain.suggestions import did_you_mean

        known = [t.offered for t in self.tools] + [n for n in self.index.owners if n not in self.by_offered]
        raise ScopeError(f"unknown tool {name!r}", hint=did_you_mean(name, known))
