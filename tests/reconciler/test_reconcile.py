from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from mcptrain.reconciler.records import read_record
from mcptrain.training.backends import lora as lora_backend
from mcptrain.workspace import Workspace
from tests.cli import mcptrain
from tests.reconciler.conftest import reword_a_training_row

EXTRA_SCENARIO = """
  - id: PAY-T-900
    priority: normal
    query: Could you put a 31 dollar charge on invoice INV-4711?
    expect: {call: {create_payment: {amount: 3100, invoice_id: INV-4711}}}
"""


def test_reconcile_runs_every_stage_once_then_has_nothing_to_do(
        tiny_project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = str(tiny_project)
    code, out, err = mcptrain("reconcile", root, "--yes", "--inline")
    assert code == 0, err
    for stage in ("train", "eval", "gate"):
        assert read_record(Workspace(tiny_project), stage) is not None, stage
    train = read_record(Workspace(tiny_project), "train")
    assert train is not None
    artifact = tiny_project / train["outputs"]["artifact"]
    assert (artifact / "adapter_model.safetensors").is_file()
    assert json.loads((artifact / "training_summary.json").read_text())["steps"] == 4
    report = json.loads((tiny_project / read_record(Workspace(tiny_project), "eval")["outputs"]["report"]).read_text())
    assert report["baseline"] is not None and report["candidate"]["overall"]["n"] > 0
    assert {i["split"] for i in report["items"]} <= {"test", "holdout", "zero_shot", "orchestration", "scenarios"}
    gate = read_record(Workspace(tiny_project), "gate")["outputs"]["verdict"]
    assert gate["decision"] in {"full", "partial", "retry", "blocked", "catastrophic"}
    assert f"mcptrain: verdict {gate['decision']}" in out
    assert "accuracy by category" in out

    code, out, err = mcptrain("reconcile", root, "--yes", "--inline")
    assert code == 0, err
    assert "mcptrain: nothing to do" in out and "2/5 train" not in out
    assert read_record(Workspace(tiny_project), "train") == train  # not run again

    # A trainer whose batch plan changed (which rows each step sees) trains anew.
    monkeypatch.setattr(lora_backend, "PLAN_VERSION", lora_backend.PLAN_VERSION + 1)
    code, out, err = mcptrain("reconcile", root, "--dry-run")
    assert code == 0, err
    assert "training settings changed" in out and "dry run" in out
    monkeypatch.undo()

    # A new test scenario is a scored split: evaluate again, never retrain.
    scenarios = tiny_project / "specs" / "payment" / "tests" / "critical.yaml"
    scenarios.write_text(scenarios.read_text() + EXTRA_SCENARIO)
    code, out, err = mcptrain("reconcile", root, "--dry-run")
    assert code == 0, err
    assert re.search(r"train\s*│\s*up to date", out) and re.search(r"eval\s*│\s*run", out)

    # Rewording a training row is a change of what training reads: train anew.
    reword_a_training_row(tiny_project)
    code, out, err = mcptrain("reconcile", root, "--dry-run")
    assert code == 0, err
    assert "the training or validation rows changed" in out and "dry run" in out
    assert read_record(Workspace(tiny_project), "train") == train


def test_reconcile_asks_before_training_and_ci_must_say_yes(tiny_project: Path) -> None:
    code, _, err = mcptrain("reconcile", str(tiny_project))
    assert code == 1
    assert "pass --yes in CI" in err
    assert read_record(Workspace(tiny_project), "train") is None


def test_reconcile_stops_at_invalid_specs(tiny_project: Path) -> None:
    tools = tiny_project / "specs" / "payment" / "tools.yaml"
    tools.write_text(tools.read_text().replace("inputSchema", "input_schema", 1))
    code, _, err = mcptrain("reconcile", str(tiny_project), "--yes", "--inline")
    assert code == 1
    assert "tools.yaml:" in err and "the dataset was not built" in err
    assert read_record(Workspace(tiny_project), "train") is None


def only_unowned_checks(root: Path) -> Path:
    """The policy with no check a single service owns: with one service, any failing service
    is 100% of them (catastrophic), so these tests gate on the overall accuracy alone."""
    scenarios = root / "specs" / "payment" / "tests" / "critical.yaml"
    scenarios.write_text(scenarios.read_text().replace("    min_accuracy_required: 0.98\n", ""))
    policy = root / "policies" / "default.yaml"
    policy.write_text(policy.read_text().replace("min_overall_accuracy: 0.5", "min_overall_accuracy: 1.0")
                      .replace("critical_services: [payment-service]", "critical_services: []"))
    return policy


def test_fail_on_block_exits_4_when_the_gates_block(tiny_project: Path) -> None:
    only_unowned_checks(tiny_project)
    code, out, err = mcptrain("reconcile", str(tiny_project), "--yes", "--inline", "--fail-on-block")
    assert code == 4, err
    assert "mcptrain: verdict blocked" in out
    assert "failed gate checks" in out


def test_a_retry_verdict_retrains_with_the_policys_adjustments_once(tiny_project: Path) -> None:
    policy = only_unowned_checks(tiny_project)
    policy.write_text(policy.read_text() + "max_retries: 1\nretry_with: [{max_steps: 2, learning_rate: 0.005}]\n")
    root = str(tiny_project)
    code, out, err = mcptrain("reconcile", root, "--yes", "--inline", "--fail-on-block")
    assert code == 4, err
    assert "mcptrain: verdict retry: retry 1 of 1: " in out, out[-600:]
    assert "checks fail; the next reconcile retrains with training max_steps: 2, learning_rate: 0.005" in out
    first = read_record(Workspace(tiny_project), "train")
    code, out, err = mcptrain("reconcile", root, "--dry-run")
    assert "retry 1 (the last gate verdict)" in out, out
    code, out, err = mcptrain("reconcile", root, "--yes", "--inline", "--fail-on-block")
    assert code == 4, err
    retried = read_record(Workspace(tiny_project), "train")
    assert retried != first
    assert json.loads((tiny_project / retried["outputs"]["artifact"] / "training_summary.json").read_text())["steps"] == 2
    verdict = read_record(Workspace(tiny_project), "gate")["outputs"]["verdict"]
    assert (verdict["decision"], verdict["attempt"]) == ("blocked", 1)
    assert "(1 retries spent)" in verdict["reason"]
    code, out, err = mcptrain("reconcile", root, "--yes", "--inline")
    assert code == 0 and "nothing to do" in out  # the retried model stays, nothing retrains
