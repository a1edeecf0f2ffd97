"""No scored item ever shapes what is scored (issue 17, item 1).

A scored item is planted in the specs and in the last evaluation's report; whatever its
text, its id or its outcome, the training rows (what an adapter or an OpenAI job trains
on) and the prompt backend's prompt stay byte for byte the same. A validation failure,
the one thing failure-driven selection may learn from, does change the prompt: the
control that shows the test can fail.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from mcptrain.commands import build
from mcptrain.reconciler.records import write_record
from mcptrain.reconciler.stages import train_stage
from mcptrain.specs.loader import load_project
from mcptrain.workspace import Workspace
from tests.conftest import PROJECTS

# Enough examples of each tool that validation holds some of every tool.
EXAMPLES = "".join(f"""
  - id: pay-more-{n}
    query: Please charge {n} dollars on invoice INV-{700 + n} right away
    call: {{create_payment: {{amount: {n * 100}, currency: USD, invoice_id: INV-{700 + n}}}}}
""" for n in range(2, 14))
PLANTED = """
  - id: {id}
    priority: critical
    query: {query}
    expect: {{call: {{create_payment: {{amount: 4400, invoice_id: INV-4400}}}}}}
"""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    shutil.copytree(PROJECTS / "good", root)
    (root / "mcptrain.yaml").write_text("apiVersion: mcptrain/v1\nkind: Project\nname: good-model\n"
                                        "backend: prompt\ndvc: {enabled: false}\n", encoding="utf-8")
    charges = root / "specs" / "payment" / "examples" / "charges.yaml"
    charges.write_text(charges.read_text(encoding="utf-8") + EXAMPLES, encoding="utf-8")
    return root


def plant(root: Path, item_id: str, query: str) -> None:
    tests = root / "specs" / "payment" / "tests" / "planted.yaml"
    tests.write_text("apiVersion: mcptrain/v1\nkind: TestScenarios\nservice: payment-service\nscenarios:\n"
                     + PLANTED.format(id=item_id, query=query), encoding="utf-8")


def trained_on(root: Path) -> dict[str, bytes]:
    """What any backend trains on: the canonical rows and the exported forms of train and validation."""
    data = root / "datasets"
    return {str(p.relative_to(data)): p.read_bytes() for p in sorted(data.rglob("*.jsonl"))
            if p.stem in ("train", "validation")}


def report_with(root: Path, items: list[dict[str, Any]], diagnostic: list[dict[str, Any]]) -> None:
    """A last evaluation whose report holds these items (scored) and diagnostic items."""
    path = root / "eval" / "report.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"items": items, "diagnostic_items": diagnostic}), encoding="utf-8")
    write_record(Workspace(root), "eval", "planted", {"report": "eval/report.json"})


def item(row_id: str, split: str, correct: bool) -> dict[str, Any]:
    return {"id": row_id, "row_id": row_id, "split": split,
            "candidate": {"outcome": "correct" if correct else "wrong_arguments", "correct": correct,
                          "reason": ""}}


def prompt_of(root: Path) -> dict[str, Any]:
    project, _ = load_project(root)
    outcome = train_stage(Workspace(root), project, force=True)
    data = json.loads((outcome.artifact / "prompt.json").read_text(encoding="utf-8"))
    return {k: data[k] for k in ("system_prompts", "examples", "failures_addressed")}


def test_a_planted_scored_item_changes_no_training_row_and_no_prompt(repo: Path) -> None:
    assert build.run(repo) == 0
    baseline_rows = trained_on(repo)
    validation = [json.loads(line) for line in (repo / "datasets" / "validation.jsonl").read_text().splitlines()]
    assert validation, "the fixture needs validation rows"

    variants = [("PLANT-1", "Bill the client forty four dollars on invoice INV-4400"),
                ("PLANT-2", "Zap 44 bucks onto INV-4400, quickly")]
    prompts = []
    for item_id, query in variants:
        plant(repo, item_id, query)
        assert build.run(repo) == 0
        assert trained_on(repo) == baseline_rows  # its text reaches no training row
        scenarios = [json.loads(line) for line in (repo / "datasets" / "scenarios.jsonl").read_text().splitlines()]
        assert item_id in {r["id"] for r in scenarios}
        for correct in (True, False):  # its outcome
            # Listed as a scored item, and even slipped into the diagnostic items under its own split.
            report_with(repo, [item(item_id, "scenarios", correct)], [item(item_id, "scenarios", correct)])
            prompts.append(prompt_of(repo))
    report_with(repo, [], [])
    prompts.append(prompt_of(repo))
    assert all(p == prompts[0] for p in prompts)
    assert prompts[0]["failures_addressed"] == {}
    assert not any("4400" in text for text in prompts[0]["system_prompts"].values())

    # The control: a validation failure is what failure-driven selection learns from.
    report_with(repo, [], [item(validation[0]["id"], "validation", False)])
    learned = prompt_of(repo)
    assert learned["failures_addressed"] and set(learned["failures_addressed"]) == {validation[0]["id"]}
    assert learned["examples"] != prompts[0]["examples"]
