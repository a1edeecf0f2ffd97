"""`mcptrain status`, Argo CD style: per model and per service, Sync (do the specs at HEAD
match the production version's?) and Health (does the production model pass today's gate
policies, on the metrics the registry recorded for it?).

Sync compares the specs' surface (`promotion.surface`) with the one committed for the
production version, so OutOfSync lists what differs, in the version bump's words. Health
re-judges the production entry's metrics (overall, by category, service and priority) with
the current policies and thresholds: a policy tightened since the release shows as Degraded
before any model is retrained. Per-scenario minimums are judged at gate time only (the
registry keeps no per-scenario results).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from mcptrain.errors import SpecError
from mcptrain.gates import GateCheck, apply_gates
from mcptrain.promotion.promote import production_surface
from mcptrain.promotion.registry import production_summary, read_registry
from mcptrain.promotion.semver import compare_surfaces
from mcptrain.promotion.surface import capture_surface
from mcptrain.reconciler.sources import Facts
from mcptrain.workspace import Workspace

SYNCED, OUT_OF_SYNC = "Synced", "OutOfSync"
HEALTHY, DEGRADED, MISSING = "Healthy", "Degraded", "Missing"


@dataclass(frozen=True)
class Status:
    kind: str  # model | service
    name: str
    sync: str
    health: str
    version: str | None  # the production version
    differs: list[str] = field(default_factory=list)  # what OutOfSync means, one line each
    why: str = ""  # what Degraded / Missing means

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def repository_status(ws: Workspace) -> list[Status]:
    """The model's status, then each service's (every service in the specs or in production)."""
    specs, diags = ws.load_specs()
    errors = [d for d in diags if d.severity == "error"]
    if errors:
        raise SpecError(errors)
    model = specs.project_spec.name
    surface = capture_surface(specs)
    live = read_registry(ws.root).production(model)
    if live is None:
        missing = "no production version: none has been released (mcptrain release, after a promotion merges)"
        return [Status("model", model, OUT_OF_SYNC, MISSING, None, ["no production version to compare with"], missing),
                *(Status("service", name, OUT_OF_SYNC, MISSING, None, ["not in production"], missing)
                  for name in sorted(surface["services"]))]
    before = production_surface(ws.root, model, live.version)
    facts = Facts.of(specs)
    verdict = apply_gates(facts.policies, production_summary(live), service_thresholds=facts.thresholds,
                          critical=facts.critical)
    failing = [c for c in verdict.checks if not c.passed]
    failed = [_failed(c) for c in failing]
    differs = [r.text for r in compare_surfaces(before, surface)]
    healthy = verdict.decision == "full"
    out = [Status("model", model, OUT_OF_SYNC if differs else SYNCED, HEALTHY if healthy else DEGRADED, live.version,
                  differs, "" if healthy else f"today's gates say {verdict.decision}: {'; '.join(failed)}")]
    served = live.metrics.service
    for name in sorted(set(surface["services"]) | set(before["services"])):
        mine = {**surface, "services": {name: surface["services"][name]} if name in surface["services"] else {}}
        theirs = {**surface, "services": {name: before["services"][name]} if name in before["services"] else {}}
        lines = [r.text for r in compare_surfaces(theirs, mine)]
        if name not in served:
            health, why = MISSING, f"production v{live.version} has no results for {name}"
        elif name in verdict.failing_services:
            health, why = DEGRADED, "; ".join(_failed(c) for c in failing if c.service == name) or \
                "fails today's gates"
        else:
            health, why = HEALTHY, ""
        out.append(Status("service", name, OUT_OF_SYNC if lines else SYNCED, health, live.version, lines, why))
    return out


def _failed(check: GateCheck) -> str:
    got = f"{check.actual:.3f}" if check.actual is not None else check.detail or "no result"
    return f"{check.policy}: {check.check} {got} (required {check.required:.2f})"
