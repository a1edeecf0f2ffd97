from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import PROJECTS
from tests.training.conftest import tiny_model, tiny_tokenizer  # noqa: F401  (fixtures)

PROJECT_YAML = """\
apiVersion: mcptrain/v1
kind: Project
name: good-model
base_model: {model}
training: {{max_steps: 4, batch_size: 2, eval_every: 2, checkpoint_every: 2, learning_rate: 0.01,
           warmup_ratio: 0.0, max_seq_len: 2048}}
evaluation: {{batch_size: 8, max_new_tokens: 12}}
dvc: {{enabled: false}}
"""


@pytest.fixture
def tiny_project(tmp_path: Path, tiny_model: Path) -> Path:  # noqa: F811
    """tests/projects/good trained on the tiny in-process model, without DVC."""
    root = tmp_path / "repo"
    shutil.copytree(PROJECTS / "good", root)
    (root / "mcptrain.yaml").write_text(PROJECT_YAML.format(model=tiny_model), encoding="utf-8")
    return root


def add_a_holdout_row(project: Path) -> None:
    """A cut-off date and one example written after it: the quarterly holdout of the chapter,
    one row that `reconcile` must never read."""
    config = project / "mcptrain.yaml"
    config.write_text(config.read_text() + "splits: {time_holdout_after: 2026-06-30}\n", encoding="utf-8")
    examples = project / "specs" / "payment" / "examples" / "charges.yaml"
    examples.write_text(examples.read_text() + (
        "  - id: pay-late\n"
        "    query: Bill customer C-88 nineteen dollars for their plan renewal\n"
        "    call: {create_payment: {amount: 1900, customer_id: C-88}}\n"
        "    created_at: 2026-09-01\n"), encoding="utf-8")


def reword_a_training_row(project: Path) -> str:
    """Append " today" to the query of a payment example that the last build put in the
    training split (so what training reads really changes); returns the new query."""
    import json

    examples = project / "specs" / "payment" / "examples" / "charges.yaml"
    rows = map(json.loads, (project / "datasets" / "train.jsonl").read_text().splitlines())
    row = next(r for r in rows if r["service"] == "payment-service" and r["kind"] == "example" and "#" not in r["id"])
    query = row["messages"][1]["content"]
    text = examples.read_text()
    assert text.count(query) == 1
    examples.write_text(text.replace(query, query + " today"))
    return query + " today"
