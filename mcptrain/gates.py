"""Gates: judge a candidate's evaluation summary by every gate policy."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mcptrain.specs.models import GatePolicySpec


@dataclass(frozen=True)
class GateCheck:
    policy: str
    check: str
    required: float
    actual: float | None
    passed: bool
    detail: str = ""


@dataclass(frozen=True)
class GateVerdict:
    decision: str  # full | partial | blocked
    checks: list[GateCheck]
    deployable_services: list[str]
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"decision": self.decision, "reason": self.reason,
                "deployable_services": self.deployable_services,
                "checks": [c.__dict__ for c in self.checks]}


def apply_gates(policies: Sequence[GatePolicySpec], summary: dict[str, Any],
                production: dict[str, Any] | None = None) -> GateVerdict:
    """Judge a candidate's evaluation summary by every gate policy.

    `production` is the summary of the model in production, for `max_regression`; with
    none (no model promoted yet) regression checks are skipped and the verdict says so.
    Decisions: full (every check passes); partial (some services fail, and every
    critical service and the services shipped meet `partial_deploy.min_accuracy`);
    blocked (nothing ships).
    """
    checks: list[GateCheck] = []
    by = summary["by"]
    for p in policies:
        checks.append(_check(p.name, "overall accuracy", p.min_overall_accuracy, summary["overall"]))
        for category, minimum in sorted(p.thresholds.items()):
            checks.append(_check(p.name, f"category {category}", minimum, by["category"].get(category)))
        for category in p.critical_categories:
            checks.append(_check(p.name, f"critical category {category}", p.critical_min_accuracy,
                                 by["category"].get(category)))
        for service in p.critical_services:
            checks.append(_check(p.name, f"critical service {service}", p.critical_min_accuracy,
                                 by["service"].get(service)))
        critical = by["priority"].get("critical")
        if critical is not None:
            checks.append(_check(p.name, "critical scenarios", p.critical_min_accuracy, critical))
        for s in summary.get("scenario_checks", []):
            checks.append(GateCheck(p.name, f"scenario {s['scenario']}", s["required"], s["accuracy"],
                                    s["passed"]))
        if production is not None:
            for category, now in by["category"].items():
                before = production["by"]["category"].get(category)
                if before is None or not now["n"]:
                    continue
                drop = before["accuracy"] - now["accuracy"]
                checks.append(GateCheck(p.name, f"regression {category}", p.max_regression, drop,
                                        drop <= p.max_regression + 1e-12,
                                        f"{before['accuracy']:.3f} -> {now['accuracy']:.3f}"))
    failed = [c for c in checks if not c.passed]
    services = sorted(by["service"])
    if not failed:
        return GateVerdict("full", checks, services, "every gate passes"
                           + ("" if production is not None else " (no production model: regression not checked)"))
    partial = [p.partial_deploy.min_accuracy for p in policies if p.partial_deploy is not None]
    if partial:
        bar = max(partial)
        critical = {s for p in policies for s in p.critical_services}
        good = [s for s in services if by["service"][s]["accuracy"] >= bar]
        if good and all(s in good for s in critical & set(services)):
            return GateVerdict("partial", checks, good, f"{len(failed)} checks fail; services at or above "
                               f"{bar:.0%} may ship alone: {', '.join(good)}")
    return GateVerdict("blocked", checks, [], f"{len(failed)} checks fail")


def _check(policy: str, name: str, required: float, score: dict[str, Any] | None) -> GateCheck:
    if score is None or not score.get("n"):
        return GateCheck(policy, name, required, None, False, "no evaluation items")
    accuracy = float(score["accuracy"])
    return GateCheck(policy, name, required, accuracy, accuracy >= required - 1e-12,
                     f"{score['correct']}/{score['n']}")
