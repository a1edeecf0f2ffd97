"""What changed between a service's ToolSet and its live server, and what that breaks.

Each difference carries its semver impact (`schema_diff`) and the examples, edge cases
and test scenarios it invalidates. Invalidation is decided by the validator itself: the
repository is validated once as written and once with every drifted service's ToolSet
replaced by what its server lists; an error only the second run reports is a row the
live tools break (a removed tool or parameter, a missing new required argument, a value
of the wrong type or outside the enum ...), so these checks can never disagree with
`mcptrain validate`.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any

from mcptrain.errors import Diagnostic
from mcptrain.servers.schema_diff import Change, Impact, bump_of, diff_tools
from mcptrain.specs import models as s
from mcptrain.specs.loader import Loaded, Specs
from mcptrain.specs.validator import validate_repository

_ROW = re.compile(r"^(examples|edge_cases|scenarios)\[(\d+)\]")
_KIND = {"examples": "example", "edge_cases": "edge case", "scenarios": "scenario"}


@dataclass(frozen=True)
class RowRef:
    id: str
    kind: str  # example / edge case / scenario
    path: str
    line: int
    col: int
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class Difference:
    change: Change
    invalidates: list[RowRef] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {**self.change.as_dict(), "invalidates": [r.as_dict() for r in self.invalidates]}


@dataclass
class ServiceDrift:
    service: str
    server: str  # how output names the server
    differences: list[Difference] = field(default_factory=list)
    error: str | None = None  # the server could not be listed

    @property
    def bump(self) -> Impact | None:
        return bump_of([d.change for d in self.differences])

    def as_dict(self) -> dict[str, Any]:
        return {"service": self.service, "server": self.server, "bump": self.bump, "error": self.error,
                "differences": [d.as_dict() for d in self.differences]}


def tools_of(specs: Specs, service: str) -> list[dict[str, Any]]:
    """A service's tools as its ToolSets write them (MCP's shape)."""
    bundle = specs.services.get(service)
    return [t.model_dump(mode="json", by_alias=True, exclude_none=True)
            for ts in (bundle.toolsets if bundle else []) for t in ts.spec.tools]


def find_drift(specs: Specs, diags: list[Diagnostic], live: dict[str, list[dict[str, Any]]],
               servers: dict[str, str]) -> list[ServiceDrift]:
    """`live`: each reachable service's tools (as `spec_tools` returns them)."""
    report = {svc: ServiceDrift(svc, servers[svc]) for svc in servers}
    for svc, tools in live.items():
        report[svc].differences = [Difference(c) for c in diff_tools(tools_of(specs, svc), tools)]
    drifted = {svc: live[svc] for svc in live if report[svc].differences}
    if drifted:
        _attach_invalidated(specs, diags, drifted, report)
    return list(report.values())


def _attach_invalidated(specs: Specs, diags: list[Diagnostic], drifted: dict[str, list[dict[str, Any]]],
                        report: dict[str, ServiceDrift]) -> None:
    before = {_key(d) for d in validate_repository(specs.root, (specs, list(diags))).errors}
    after = validate_repository(specs.root, (_with_tools(specs, drifted), list(diags))).errors
    files = {f.path: (svc, f) for svc, b in specs.services.items() for f in b.files()}
    for d in after:
        if _key(d) in before or d.path not in files:
            continue
        svc, loaded = files[d.path]
        row = _row(loaded, d)
        if row is None:
            continue
        for diff in _blamed(report, svc, drifted, d):
            if row.id not in {r.id for r in diff.invalidates}:
                diff.invalidates.append(row)


def _with_tools(specs: Specs, drifted: dict[str, list[dict[str, Any]]]) -> Specs:
    """`specs` with each drifted service's ToolSets replaced by its live tools."""
    services = dict(specs.services)
    for svc, tools in drifted.items():
        bundle = services[svc]
        doc = bundle.toolsets[0].doc if bundle.toolsets else (bundle.files()[0].doc if bundle.files() else None)
        if doc is None:
            continue
        spec = s.ToolSetSpec.model_validate({"apiVersion": s.API_VERSION, "kind": "ToolSet", "service": svc,
                                             "tools": tools})
        services[svc] = dataclasses.replace(bundle, toolsets=[Loaded(spec, doc)])
    return dataclasses.replace(specs, services=services)


def _key(d: Diagnostic) -> tuple[str, str, str]:
    return d.path, d.where, d.message


def _row(loaded: Loaded[Any], d: Diagnostic) -> RowRef | None:
    m = _ROW.match(d.where)
    if m is None:
        return None
    section, i = m.group(1), int(m.group(2))
    items = loaded.doc.data.get(section) if isinstance(loaded.doc.data, dict) else None
    if not isinstance(items, list) or i >= len(items) or not isinstance(items[i], dict):
        return None
    line, col = loaded.doc.position((section, i))
    return RowRef(str(items[i].get("id")), _KIND[section], loaded.path, line, col, d.message)


def _blamed(report: dict[str, ServiceDrift], home: str, drifted: dict[str, list[dict[str, Any]]],
            d: Diagnostic) -> list[Difference]:
    """The differences an error comes from: those of the tool it names, narrowed to the
    parameter it names when one does."""
    text = f"{d.where} {d.message}"
    candidates = [diff for svc in dict.fromkeys((home, *drifted)) if svc in report for diff in report[svc].differences]
    words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_-]*", text))
    by_tool = [x for x in candidates if x.change.tool in words or re.search(rf"\b{re.escape(x.change.tool)}\b", text)]
    if not by_tool:
        return []
    by_param = [x for x in by_tool if x.change.parameter and
                x.change.parameter.split(".")[-1].rstrip("[]") in words]
    if by_param:
        return by_param
    breaking = [x for x in by_tool if x.change.impact == "major"]
    return breaking or by_tool
