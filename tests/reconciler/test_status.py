"""`mcptrain status`: Sync and Health per model and service against the production version."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli import mcptrain
from tests.reconciler.test_plan_versions import NEW_TOOL, TOOLS, production  # noqa: F401  (fixture)
from tests.reconciler.test_promote import repo  # noqa: F401  (fixture)


def statuses(root: Path) -> dict[str, dict]:  # type: ignore[type-arg]
    code, out, err = mcptrain("status", str(root), "--json")
    assert code == 0, err
    return {f"{s['kind']}:{s['name']}": s for s in json.loads(out)}


def test_nothing_released_is_out_of_sync_and_missing(tiny_project: Path) -> None:
    got = statuses(tiny_project)
    assert [(k, s["sync"], s["health"]) for k, s in got.items()] == [
        ("model:good-model", "OutOfSync", "Missing"), ("service:payment-service", "OutOfSync", "Missing")]
    assert got["model:good-model"]["why"].startswith("no production version: none has been released")


def test_synced_healthy_then_out_of_sync_then_degraded(production: Path) -> None:  # noqa: F811
    got = statuses(production)
    assert [(s["sync"], s["health"], s["version"]) for s in got.values()] == [
        ("Synced", "Healthy", "1.0.0"), ("Synced", "Healthy", "1.0.0")]
    code, out, _ = mcptrain("status", str(production))
    assert code == 0 and "next: mcptrain plan" not in out

    (production / TOOLS).write_text((production / TOOLS).read_text() + NEW_TOOL)
    got = statuses(production)
    model, service = got["model:good-model"], got["service:payment-service"]
    assert (model["sync"], service["sync"]) == ("OutOfSync", "OutOfSync")
    assert any("refund_payment" in line for line in model["differs"]) and service["differs"] == model["differs"]
    code, out, _ = mcptrain("status", str(production))
    assert "  service payment-service OutOfSync: " in out and "next: mcptrain plan" in out

    policy = production / "policies" / "default.yaml"
    policy.write_text(policy.read_text().replace("min_overall_accuracy: 0.0", "min_overall_accuracy: 1.0"))
    got = statuses(production)
    assert got["model:good-model"]["health"] == "Degraded"
    assert "default: overall accuracy" in got["model:good-model"]["why"]
    assert "(required 1.00)" in got["model:good-model"]["why"]
    assert got["service:payment-service"]["health"] == "Healthy"  # no service threshold failed
