from __future__ import annotations

from pathlib import Path
from typing import Any

from mcptrain.gates import apply_gates
from mcptrain.specs.models import GatePolicySpec
from mcptrain.workspace import Workspace


def policy(**fields: Any) -> GatePolicySpec:
    return GatePolicySpec.model_validate({"apiVersion": "mcptrain/v1", "kind": "GatePolicy", "name": "p", **fields})


def score(correct: int, n: int) -> dict[str, Any]:
    return {"n": n, "correct": correct, "accuracy": correct / n}


def summary(categories: dict[str, tuple[int, int]], services: dict[str, tuple[int, int]],
            critical: tuple[int, int] | None = None) -> dict[str, Any]:
    total = [sum(c for c, _ in categories.values()), sum(n for _, n in categories.values())]
    return {"overall": score(*total),
            "by": {"category": {k: score(*v) for k, v in categories.items()},
                   "service": {k: score(*v) for k, v in services.items()},
                   "priority": {"critical": score(*critical)} if critical else {}},
            "scenario_checks": []}


def test_every_check_passing_ships_in_full() -> None:
    s = summary({"simple": (9, 10)}, {"pay": (5, 5), "ord": (4, 5)}, critical=(2, 2))
    v = apply_gates([policy(min_overall_accuracy=0.8, thresholds={"simple": 0.9}, critical_services=["pay"])], s)
    assert v.decision == "full" and v.deployable_services == ["ord", "pay"]
    assert "regression not checked" in v.reason
    assert {c.check for c in v.checks} == {"overall accuracy", "category simple", "critical service pay",
                                           "critical scenarios"}


def test_a_failing_service_with_a_partial_policy_ships_the_others() -> None:
    s = summary({"simple": (14, 20)}, {"pay": (10, 10), "ord": (4, 10)})
    p = policy(min_overall_accuracy=0.9, critical_services=["pay"], partial_deploy={"min_accuracy": 0.9})
    v = apply_gates([p], s)
    assert v.decision == "partial" and v.deployable_services == ["pay"]
    failed = [c.check for c in v.checks if not c.passed]
    assert failed == ["overall accuracy"]


def test_a_critical_service_below_the_bar_blocks_even_a_partial_deploy() -> None:
    s = summary({"simple": (15, 20)}, {"pay": (8, 10), "ord": (10, 10)})
    p = policy(critical_services=["pay"], critical_min_accuracy=1.0, partial_deploy={"min_accuracy": 0.9})
    v = apply_gates([p], s)
    assert v.decision == "blocked"
    check = next(c for c in v.checks if c.check == "critical service pay")
    assert (check.required, check.actual, check.detail) == (1.0, 0.8, "8/10")


def test_a_threshold_on_a_category_with_no_items_fails() -> None:
    v = apply_gates([policy(thresholds={"parallel": 0.5})], summary({"simple": (1, 1)}, {"pay": (1, 1)}))
    assert v.decision == "blocked"
    assert [(c.check, c.detail) for c in v.checks if not c.passed] == [("category parallel", "no evaluation items")]


def test_regression_against_production_is_per_category() -> None:
    prod = summary({"simple": (10, 10), "parallel": (5, 10)}, {"pay": (15, 20)})
    now = summary({"simple": (9, 10), "parallel": (6, 10)}, {"pay": (15, 20)})
    v = apply_gates([policy(max_regression=0.05)], now, production=prod)
    failed = [(c.check, c.detail) for c in v.checks if not c.passed]
    assert failed == [("regression simple", "1.000 -> 0.900")]
    assert apply_gates([policy(max_regression=0.1)], now, production=prod).decision == "full"


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
