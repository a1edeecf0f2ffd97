"""The semver impact of a change to a service's tool schemas: promotion's own rules
(`promotion.semver`, DESIGN.md "Registry and versions"), so `drift` says exactly what the
next promotion will. This module only turns promotion's reasons into per-tool,
per-parameter changes that drift can attach the rows they invalidate to.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from mcptrain.promotion.semver import compare_surfaces

Impact = Literal["major", "minor", "patch"]
IMPACTS: tuple[Impact, ...] = ("major", "minor", "patch")  # strongest first
_SERVICE = "service"  # the one service of the surfaces compared here
_PARAMETER = re.compile(r"^(?:new required parameter|optional parameter|parameter) ([^ ]+)")


@dataclass(frozen=True)
class Change:
    tool: str
    parameter: str | None  # dotted path inside the arguments; None: the tool itself
    what: str  # as promotion words it: "type changed from integer to string", ...
    impact: Impact

    @property
    def subject(self) -> str:
        return f"{self.tool}.{self.parameter}" if self.parameter else self.tool

    def as_dict(self) -> dict[str, Any]:
        return {"tool": self.tool, "parameter": self.parameter, "change": self.what, "impact": self.impact}


def diff_tools(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[Change]:
    """Every difference between two tool lists (MCP's shape), with promotion's level."""
    before, after = _surface(old), _surface(new)
    names = sorted({t["name"] for t in [*old, *new]}, key=len, reverse=True)
    return [_change(r.level, r.text, names) for r in compare_surfaces(before, after)]  # type: ignore[arg-type]


def bump_of(changes: list[Change]) -> Impact | None:
    """The strongest impact among `changes` (None: no change at all)."""
    return next((i for i in IMPACTS if any(c.impact == i for c in changes)), None)


def _surface(tools: list[dict[str, Any]]) -> dict[str, Any]:
    body = {t["name"]: {"description": t.get("description", ""), "inputSchema": t.get("inputSchema") or {}}
            for t in tools}
    return {"services": {_SERVICE: {"tools": body, "content": {}, "ids": {}}}}


def _change(level: Impact, text: str, names: list[str]) -> Change:
    text = text.removeprefix(f"{_SERVICE}: ")
    if text.startswith("tool "):  # "tool X removed", "tool X added", "tool A renamed to B"
        return Change(text.split(" ")[1], None, text, level)
    head, _, what = text.partition(": ")
    tool = next((n for n in names if head == n or head.startswith(n + ".") or head.startswith(n + "[")), head)
    path = head[len(tool):].lstrip(".") or None
    m = _PARAMETER.match(what)
    if m:
        path = f"{path}.{m.group(1)}" if path else m.group(1)
    return Change(tool, path, what, level)
