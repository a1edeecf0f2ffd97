"""`mcptrain plan` against a production model: the version bump and its causes, and state
that lives in git (the registry), so a cold cache plans nothing when nothing changed."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from tests.cli import mcptrain
from tests.reconciler.test_promote import BRANCH, git, passing, repo  # noqa: F401  (fixture)

TOOLS = Path("specs") / "payment" / "tools.yaml"
NEW_TOOL = """\
  - name: refund_payment
    description: Refund a payment.
    inputSchema:
      type: object
      properties:
        payment_id: {type: string}
      required: [payment_id]
"""


@pytest.fixture
def production(repo: Path) -> Path:  # noqa: F811  (the fixture imported above)
    """The tiny project with v1.0.0 trained, promoted, merged and released."""
    passing(repo)
    root = str(repo)
    assert mcptrain("reconcile", root, "--yes", "--inline")[0] == 0
    git(repo, "merge", "-q", "--no-ff", "-m", "Merge the promotion", BRANCH)
    assert mcptrain("release", root)[0] == 0
    code, out, err = mcptrain("reconcile", root, "--yes", "--inline")
    assert code == 0 and "nothing to promote: the candidate is production v1.0.0" in out, out + err
    return repo


def plan(root: Path) -> tuple[int, dict]:  # type: ignore[type-arg]
    code, out, err = mcptrain("plan", str(root), "--json", "--detailed-exitcode")
    assert code in (0, 2), err
    return code, json.loads(out)


def actions(doc: dict) -> dict[str, str]:  # type: ignore[type-arg]
    return {a["stage"]: a["action"] for a in doc["actions"]}


def test_the_bump_and_its_causes(production: Path) -> None:
    charges = production / "specs" / "payment" / "examples" / "charges.yaml"
    charges.write_text("# reviewed\n" + charges.read_text())
    code, doc = plan(production)
    assert code == 0, doc["actions"]  # a comment: nothing to do, no version
    assert doc["version"] == {"level": None, "version": "1.0.0", "reasons": [], "production": "1.0.0"}
    out = mcptrain("plan", str(production))[1]
    assert "version: no change since production v1.0.0" in out

    text = charges.read_text()
    query = re.search(r"query: (Charge .*)", text)
    assert query is not None
    charges.write_text(text.replace(query.group(1), query.group(1) + " today", 1))
    code, doc = plan(production)
    assert code == 2
    assert doc["version"]["level"] == "patch" and doc["version"]["version"] == "1.0.1"
    assert actions(doc)["train"] == "run"  # the reworded example is a training row: retrain
    assert {a["stage"]: a["reason"] for a in doc["actions"]}["train"] == "the training or validation rows changed"
    assert any("examples" in r["text"] for r in doc["version"]["reasons"]), doc["version"]
    out = mcptrain("plan", str(production))[1]
    assert "version: 1.0.1 (patch over production v1.0.0)" in out
    charges.write_text(text)

    tools = production / TOOLS
    original = tools.read_text()
    tools.write_text(original + NEW_TOOL)
    _, doc = plan(production)
    assert (doc["version"]["level"], doc["version"]["version"]) == ("minor", "1.1.0")
    assert any("refund_payment" in r["text"] for r in doc["version"]["reasons"] if r["level"] == "minor")

    tools.write_text(original.replace("        currency: {type: string, enum: [USD, EUR, GBP], default: USD}\n", "", 1))
    assert tools.read_text() != original, "the fixture's create_payment has a currency parameter"
    charges.write_text(text.replace("currency: USD, ", ""))  # its examples stop passing it
    _, doc = plan(production)
    assert (doc["version"]["level"], doc["version"]["version"]) == ("major", "2.0.0")
    assert any("currency" in r["text"] for r in doc["version"]["reasons"] if r["level"] == "major")


def test_a_cold_cache_matching_production_plans_nothing(production: Path) -> None:
    shutil.rmtree(production / ".mcptrain")  # a fresh runner: no stage records, no artifacts,
    shutil.rmtree(production / "datasets")   # no dataset
    code, doc = plan(production)
    assert code == 0, doc["actions"]
    why = {a["stage"]: a["reason"] for a in doc["actions"]}
    assert why["build"] == f"never built; the dataset they compile to is production v1.0.0's ({doc['inputs']['dataset'][:12]})"
    assert why["train"].startswith("production v1.0.0 was trained on exactly these inputs")
    assert why["gate"].startswith("production v1.0.0 passed these gate policies")
    code, out, err = mcptrain("reconcile", str(production), "--yes", "--inline")
    assert code == 0, err
    assert "mcptrain: nothing to do: production v1.0.0 matches the specs" in out and "2/5 train" not in out
    # A new scenario needs the adapter, which is not here: the plan says so and trains.
    scenarios = production / "specs" / "payment" / "tests" / "critical.yaml"
    scenarios.write_text(scenarios.read_text() + """
  - id: PAY-T-901
    priority: normal
    query: Put a 31 dollar charge on invoice INV-4711 please
    expect: {call: {create_payment: {amount: 3100, invoice_id: INV-4711}}}
""")
    _, doc = plan(production)
    assert actions(doc)["train"] == "run" and actions(doc)["eval"] == "run"
    assert "its adapter (" in {a["stage"]: a["reason"] for a in doc["actions"]}["train"]
