"""Gates: judge a candidate's evaluation summary by every gate policy.

The chapter's rules: thresholds per category (zero-shot too), critical categories (also
scenario tags, across services) at the critical bar, no category regressing more than
`max_regression`, overall improving on production, and deployment tiers by the share of
services that fail (`deployment`): under `partial_below` the passing services ship alone
(partial); from `catastrophic_from` on nothing ships, the ML team is alerted and the
failing services are candidates for per-service adapters (catastrophic); in between
(or when a check that no single service owns fails, or a critical service fails) the model
is retrained with the next of the policy's `retry_with` adjustments while `max_retries`
allows (retry), and blocked after that. The chapter's code counts a share of exactly 20%
as a major failure and exactly 50% as catastrophic (`< 0.20`, `< 0.50`); so does this.

With several policies the strictest wins: every policy's checks apply, a service fails if
any policy's bar fails it, the lowest tier bounds and the fewest retries apply.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mcptrain.specs.models import GatePolicySpec

DECISIONS = ("full", "partial", "retry", "blocked", "catastrophic")


@dataclass(frozen=True)
class GateCheck:
    policy: str
    check: str
    required: float
    actual: float | None
    passed: bool
    detail: str = ""
    service: str | None = None  # the one service the check is about, if any


@dataclass(frozen=True)
class GateVerdict:
    decision: str  # one of DECISIONS
    checks: list[GateCheck]
    deployable_services: list[str]
    reason: str
    failing_services: list[str] = field(default_factory=list)
    failing_share: float = 0.0
    attempt: int = 0  # the retry whose model this verdict judges (0: the first training)
    retry: dict[str, Any] | None = None  # with decision retry: {"attempt": n, "training": {...}}

    def as_dict(self) -> dict[str, Any]:
        return {"decision": self.decision, "reason": self.reason,
                "deployable_services": self.deployable_services, "failing_services": self.failing_services,
                "failing_share": self.failing_share, "attempt": self.attempt, "retry": self.retry,
                "checks": [c.__dict__ for c in self.checks]}


def retry_training(policies: Sequence[GatePolicySpec], attempt: int) -> dict[str, Any]:
    """The `training:` overrides retry `attempt` trains with ({} for the first training)."""
    if attempt <= 0:
        return {}
    for p in policies:
        if len(p.retry_with) >= attempt:
            return dict(p.retry_with[attempt - 1])
    return {}


def apply_gates(policies: Sequence[GatePolicySpec], summary: dict[str, Any],
                production: dict[str, Any] | None = None, *,
                service_thresholds: Mapping[str, float | None] | None = None,
                critical: Sequence[str] = (), attempt: int = 0) -> GateVerdict:
    """Judge a candidate's evaluation summary by every gate policy.

    `production` is the production model's summary (regression and `overall_vs_production`;
    with none, both are skipped and the verdict says so). `service_thresholds` are the
    Services' own `min_threshold`s, `critical` the services marked `critical: true`, and
    `attempt` the retry this candidate was trained by (0: none).
    """
    checks: list[GateCheck] = []
    by = summary["by"]
    services = sorted(by["service"])
    for p in policies:
        checks += _policy_checks(p, summary, production)
        for service in services:
            bar = max(p.deployment.service_min_threshold, (service_thresholds or {}).get(service) or 0.0)
            if bar > 0:
                checks.append(_check(p.name, f"service {service}", bar, by["service"][service], service))
    failed = [c for c in checks if not c.passed]
    failing = sorted({c.service for c in failed if c.service is not None})
    share = len(failing) / len(services) if services else 0.0
    note = "" if production is not None else " (no production model: regression not checked)"
    if not failed:
        return GateVerdict("full", checks, services, "every gate passes" + note, attempt=attempt)
    counted = f"{len(failing)} of {len(services)} services fail ({share:.0%})" + \
        (f": {', '.join(failing)}" if failing else "")
    partial_below = min(p.deployment.partial_below for p in policies)
    catastrophic_from = min(p.deployment.catastrophic_from for p in policies)
    verdict: dict[str, Any] = {"checks": checks, "failing_services": failing, "failing_share": round(share, 4),
                               "attempt": attempt}
    if failing and share >= catastrophic_from:
        return GateVerdict("catastrophic", deployable_services=[], reason=(
            f"catastrophic: {counted}; alert the ML team; nothing ships; fall back to per-service "
            "adapters for the failing services"), **verdict)
    unowned = [c for c in failed if c.service is None]
    crit = set(critical) | {s for p in policies for s in p.critical_services}
    if failing and share < partial_below and not unowned and not crit & set(failing):
        good = [s for s in services if s not in failing]
        return GateVerdict("partial", deployable_services=good, reason=(
            f"partial: {counted}; the others ship alone: {', '.join(good)}"), **verdict)
    why = counted if failing else f"{len(unowned)} checks fail"
    if crit & set(failing):
        why += f"; critical services fail: {', '.join(sorted(crit & set(failing)))}"
    elif unowned and failing:
        why += f"; and {len(unowned)} checks no single service owns"
    retries = min(p.max_retries for p in policies)
    if attempt < retries:
        training = retry_training(policies, attempt + 1)
        return GateVerdict("retry", deployable_services=[], reason=(
            f"retry {attempt + 1} of {retries}: {why}; the next reconcile retrains with "
            f"{_show(training)}"), retry={"attempt": attempt + 1, "training": training}, **verdict)
    spent = f" ({retries} retries spent)" if retries else ""
    return GateVerdict("blocked", deployable_services=[], reason=f"blocked: {why}{spent}", **verdict)


def _policy_checks(p: GatePolicySpec, summary: dict[str, Any], production: dict[str, Any] | None) -> list[GateCheck]:
    by = summary["by"]
    checks = [_check(p.name, "overall accuracy", p.min_overall_accuracy, summary["overall"])]
    for category, minimum in sorted(p.thresholds.items()):
        checks.append(_check(p.name, f"category {category}", minimum, by["category"].get(category)))
    for name in p.critical_categories:  # a BFCL category, or a scenario tag across services
        score = by["category"].get(name) or by.get("tag", {}).get(name)
        checks.append(_check(p.name, f"critical category {name}", p.critical_min_accuracy, score))
    for service in p.critical_services:
        checks.append(_check(p.name, f"critical service {service}", p.critical_min_accuracy,
                             by["service"].get(service), service))
    critical = by["priority"].get("critical")
    if critical is not None:
        checks.append(_check(p.name, "critical scenarios", p.critical_min_accuracy, critical))
    for s in summary.get("scenario_checks", []):
        checks.append(GateCheck(p.name, f"scenario {s['scenario']}", s["required"], s["accuracy"],
                                s["passed"], service=s.get("service")))
    if production is not None:
        checks += _against_production(p, summary, production)
    return checks


def _against_production(p: GatePolicySpec, summary: dict[str, Any], production: dict[str, Any]) -> list[GateCheck]:
    checks = []
    for category, now in summary["by"]["category"].items():
        before = production["by"]["category"].get(category)
        if before is None or not now["n"]:
            continue
        drop = before["accuracy"] - now["accuracy"]
        checks.append(GateCheck(p.name, f"regression {category}", p.max_regression, drop,
                                drop <= p.max_regression + 1e-12,
                                f"{before['accuracy']:.3f} -> {now['accuracy']:.3f}"))
    if p.overall_vs_production != "ignore" and production["overall"]["n"]:
        before, now = production["overall"]["accuracy"], summary["overall"]["accuracy"]
        better = now > before + 1e-12 if p.overall_vs_production == "improve" else now >= before - 1e-12
        word = "improves on" if p.overall_vs_production == "improve" else "is not worse than"
        checks.append(GateCheck(p.name, f"overall {word} production", before, now, better,
                                f"{before:.3f} -> {now:.3f}"))
    return checks


def _check(policy: str, name: str, required: float, score: dict[str, Any] | None,
           service: str | None = None) -> GateCheck:
    if score is None or not score.get("n"):
        return GateCheck(policy, name, required, None, False, "no evaluation items", service)
    accuracy = float(score["accuracy"])
    return GateCheck(policy, name, required, accuracy, accuracy >= required - 1e-12,
                     f"{score['correct']}/{score['n']}", service)


def _show(training: dict[str, Any]) -> str:
    if not training:
        return "the same settings"
    return "training " + ", ".join(f"{k}: {v}" for k, v in training.items())
