from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from mcptrain.gates import apply_gates, retry_training
from mcptrain.specs.models import GatePolicySpec
from mcptrain.workspace import Workspace


def policy(**fields: Any) -> GatePolicySpec:
    return GatePolicySpec.model_validate({"apiVersion": "mcptrain/v1", "kind": "GatePolicy", "name": "p", **fields})


def score(correct: int, n: int) -> dict[str, Any]:
    return {"n": n, "correct": correct, "accuracy": correct / n}


def summary(categories: dict[str, tuple[int, int]], services: dict[str, tuple[int, int]],
            critical: tuple[int, int] | None = None, tags: dict[str, tuple[int, int]] | None = None) -> dict[str, Any]:
    total = [sum(c for c, _ in categories.values()), sum(n for _, n in categories.values())]
    return {"overall": score(*total),
            "by": {"category": {k: score(*v) for k, v in categories.items()},
                   "service": {k: score(*v) for k, v in services.items()},
                   "priority": {"critical": score(*critical)} if critical else {},
                   "tag": {k: score(*v) for k, v in (tags or {}).items()}},
            "scenario_checks": []}


def test_every_check_passing_ships_in_full() -> None:
    s = summary({"simple": (9, 10)}, {"pay": (5, 5), "ord": (4, 5)}, critical=(2, 2))
    v = apply_gates([policy(min_overall_accuracy=0.8, thresholds={"simple": 0.9}, critical_services=["pay"])], s)
    assert v.decision == "full" and v.deployable_services == ["ord", "pay"]
    assert "regression not checked" in v.reason
    assert {c.check for c in v.checks} == {"overall accuracy", "category simple", "critical service pay",
                                           "critical scenarios"}


FIVE = ["a", "b", "c", "d", "e"]


def five(failing: int) -> dict[str, Any]:
    """Five services; the first `failing` score 5/10, the others 10/10."""
    services = {name: (5 if i < failing else 10, 10) for i, name in enumerate(FIVE)}
    return summary({"simple": (sum(c for c, _ in services.values()), 50)}, services)


TIERED = {"deployment": {"service_min_threshold": 0.9}}


@pytest.mark.parametrize(("failing", "decision", "deployable", "share"), [
    (0, "full", FIVE, 0.0),
    (1, "blocked", [], 0.2),        # exactly 20% is a major failure, as in the chapter's code (< 0.20)
    (2, "blocked", [], 0.4),
    (3, "catastrophic", [], 0.6),
])
def test_the_deployment_tiers_by_the_share_of_failing_services(failing: int, decision: str,
                                                              deployable: list[str], share: float) -> None:
    v = apply_gates([policy(**TIERED)], five(failing))
    assert (v.decision, v.deployable_services, v.failing_share) == (decision, deployable, share)
    assert v.failing_services == FIVE[:failing]
    if failing:
        assert f"{failing} of 5 services fail ({share:.0%}): {', '.join(FIVE[:failing])}" in v.reason
    if decision == "catastrophic":
        assert "alert the ML team" in v.reason and "per-service adapters" in v.reason


def test_under_the_partial_bound_the_passing_services_ship_alone() -> None:
    v = apply_gates([policy(deployment={"service_min_threshold": 0.9, "partial_below": 0.25})], five(1))
    assert v.decision == "partial" and v.deployable_services == ["b", "c", "d", "e"]
    assert v.reason == "partial: 1 of 5 services fail (20%): a; the others ship alone: b, c, d, e"
    # and exactly at the catastrophic bound nothing ships
    v = apply_gates([policy(deployment={"service_min_threshold": 0.9, "catastrophic_from": 0.4})], five(2))
    assert v.decision == "catastrophic"


def test_a_services_own_min_threshold_raises_the_bar_never_lowers_it() -> None:
    s = five(0)
    s["by"]["service"]["c"] = score(9, 10)
    assert apply_gates([policy(**TIERED)], s).decision == "full"
    v = apply_gates([policy(deployment={"service_min_threshold": 0.9, "partial_below": 0.25})], s,
                    service_thresholds={"c": 0.95, "d": 0.5})
    assert v.decision == "partial" and v.failing_services == ["c"]
    check = next(c for c in v.checks if c.check == "service c")
    assert (check.required, check.actual) == (0.95, 0.9)
    assert next(c for c in v.checks if c.check == "service d").required == 0.9


def test_a_failing_critical_service_is_never_a_partial_deploy() -> None:
    p = policy(deployment={"service_min_threshold": 0.9, "partial_below": 0.25})
    assert apply_gates([p], five(1), critical=["a"]).decision == "blocked"
    v = apply_gates([policy(critical_services=["a"], critical_min_accuracy=1.0,
                            deployment={"partial_below": 0.25})], five(1))
    assert v.decision == "blocked" and "critical services fail: a" in v.reason
    check = next(c for c in v.checks if c.check == "critical service a")
    assert (check.required, check.actual, check.detail) == (1.0, 0.5, "5/10")


def test_retry_honours_max_retries_and_names_the_adjustments() -> None:
    p = policy(**TIERED, max_retries=2, retry_with=[{"learning_rate": 0.001}, {"max_steps": 200}])
    first = apply_gates([p], five(2))
    assert first.decision == "retry" and first.retry == {"attempt": 1, "training": {"learning_rate": 0.001}}
    assert first.reason.startswith("retry 1 of 2: 2 of 5 services fail (40%): a, b; the next reconcile "
                                   "retrains with training learning_rate: 0.001")
    second = apply_gates([p], five(2), attempt=1)
    assert second.retry == {"attempt": 2, "training": {"max_steps": 200}}
    spent = apply_gates([p], five(2), attempt=2)
    assert spent.decision == "blocked" and spent.reason.endswith("(2 retries spent)") and spent.retry is None
    assert apply_gates([p], five(0), attempt=2).decision == "full"  # the retried model passes
    assert apply_gates([p], five(3)).decision == "catastrophic"  # no retry saves a catastrophe
    assert retry_training([p], 0) == {} and retry_training([p], 2) == {"max_steps": 200}


def test_max_retries_needs_one_adjustment_per_retry() -> None:
    with pytest.raises(ValidationError, match="max_retries is 1 but retry_with names 0 adjustments"):
        policy(max_retries=1)
    with pytest.raises(ValidationError, match=r"retry_with\[0\].learnin_rate: Extra inputs are not permitted"):
        policy(max_retries=1, retry_with=[{"learnin_rate": 0.1}])


def test_tags_are_critical_categories_across_services() -> None:
    s = summary({"simple": (19, 20)}, {"pay": (10, 10), "id": (9, 10)}, tags={"payment": (4, 5), "security": (5, 5)})
    v = apply_gates([policy(critical_categories=["payment", "security", "data_deletion"],
                            critical_min_accuracy=0.98)], s)
    failed = {c.check: c.detail for c in v.checks if not c.passed}
    assert failed == {"critical category payment": "4/5", "critical category data_deletion": "no evaluation items"}
    assert v.decision == "blocked" and v.failing_services == []  # tags cut across services


def test_the_zero_shot_threshold() -> None:
    s = summary({"simple": (10, 10), "zero_shot": (8, 10)}, {"pay": (18, 20)})
    v = apply_gates([policy(thresholds={"zero_shot": 0.85})], s)
    assert [(c.check, c.actual) for c in v.checks if not c.passed] == [("category zero_shot", 0.8)]
    assert apply_gates([policy(thresholds={"zero_shot": 0.8})], s).decision == "full"


@pytest.mark.parametrize(("rule", "before", "decision"), [
    ("improve", (17, 20), "full"), ("improve", (18, 20), "blocked"), ("not_worse", (18, 20), "full"),
    ("not_worse", (19, 20), "blocked"), ("ignore", (20, 20), "full"),
])
def test_overall_against_production(rule: str, before: tuple[int, int], decision: str) -> None:
    now = summary({"simple": (18, 20)}, {"pay": (18, 20)})
    prod = summary({"simple": before}, {"pay": before})
    v = apply_gates([policy(overall_vs_production=rule, max_regression=1.0)], now, production=prod)
    assert v.decision == decision


def test_a_threshold_on_a_category_with_no_items_fails() -> None:
    v = apply_gates([policy(thresholds={"parallel": 0.5})], summary({"simple": (1, 1)}, {"pay": (1, 1)}))
    assert v.decision == "blocked"
    assert [(c.check, c.detail) for c in v.checks if not c.passed] == [("category parallel", "no evaluation items")]


def test_regression_against_production_is_per_category() -> None:
    prod = summary({"simple": (10, 10), "parallel": (5, 10)}, {"pay": (15, 20)})
    now = summary({"simple": (9, 10), "parallel": (6, 10)}, {"pay": (15, 20)})
    v = apply_gates([policy(max_regression=0.05, overall_vs_production="not_worse")], now, production=prod)
    failed = [(c.check, c.detail) for c in v.checks if not c.passed]
    assert failed == [("regression simple", "1.000 -> 0.900")]
    assert apply_gates([policy(max_regression=0.1, overall_vs_production="not_worse")], now,
                       production=prod).decision == "full"


def test_the_base_models_outputs_are_reused_across_evaluations(tiny_project: Path, tmp_path: Path) -> None:
    from mcptrain.commands import build
    from mcptrain.reconciler.stages import eval_stage
    from mcptrain.specs.loader import load_project

    assert build.run(tiny_project) == 0
    project, _ = load_project(tiny_project)
    calls: dict[str, int] = {"base": 0, "candidate": 0, "built": 0}

    class Echo:
        def __init__(self, who: str) -> None:
            self.who = who

        def predict(self, rows: list[dict]) -> list[str]:
            calls[self.who] += len(rows)
            return ["I can't help with that."] * len(rows)

    def factory(_: object, artifact: Path | None) -> Echo:
        calls["built"] += 1
        return Echo("base" if artifact is None else "candidate")

    first = eval_stage(Workspace(tiny_project), project, tmp_path, artifact_inputs="a1", out_dir=tmp_path / "e1",
                       make_predictor=factory)
    n = calls["base"]
    assert n > 0 and calls["candidate"] == n and calls["built"] == 2
    second = eval_stage(Workspace(tiny_project), project, tmp_path, artifact_inputs="a2", out_dir=tmp_path / "e2",
                        make_predictor=factory)
    assert calls["base"] == n and calls["candidate"] == 2 * n  # the base model was not even loaded
    assert calls["built"] == 3
    assert second.baseline == first.baseline
    forced = eval_stage(Workspace(tiny_project), project, tmp_path, artifact_inputs="a3", out_dir=tmp_path / "e3",
                        make_predictor=factory, force=True)
    assert calls["base"] == 2 * n and forced.baseline == first.baseline
