"""Property: every organisation the validator accepts builds, trains one step on the tiny
model, and evaluates. The organisations are seeded random subsets of every row shape the
spec language has (tests/org.py), plus all of them at once."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from mcptrain.specs.validator import validate_repository
from tests.cli import mcptrain
from tests.org import FEATURES, write_org

SUBSETS = [FEATURES, *(tuple(sorted(random.Random(seed).sample(FEATURES, 4))) for seed in range(3))]


@pytest.mark.parametrize("features", SUBSETS, ids=["+".join(f) for f in SUBSETS])
def test_what_validates_builds_trains_and_evaluates(features: tuple[str, ...], tmp_path: Path,
                                                     tiny_model: Path) -> None:
    root = write_org(tmp_path / "org", features, base_model=str(tiny_model),
                     training={"max_steps": 1, "batch_size": 2, "eval_every": 1, "checkpoint_every": 1,
                               "max_seq_len": 4096, "warmup_ratio": 0.0},
                     evaluation={"batch_size": 8, "max_new_tokens": 8})
    assert validate_repository(root).errors == []
    code, out, err = mcptrain("build", str(root))
    assert code == 0, err
    code, out, err = mcptrain("train", str(root), "--inline")
    assert code == 0, err
    report_dir = tmp_path / "report"
    code, out, err = mcptrain("eval", str(root), "--out", str(report_dir), "--split", "scenarios")
    assert code == 0, err
    report = json.loads((report_dir / "report.json").read_text())
    scenarios = [r for r in (root / "datasets" / "scenarios.jsonl").read_text().splitlines()]
    assert report["candidate"]["overall"]["n"] >= len(scenarios) > 0
    assert {i["outcome"] for i in report["items"] for i in [i["candidate"]]} <= {
        "correct", "wrong_function", "wrong_arguments", "missing_call", "extra_call", "malformed",
        "abstained", "clarified"}
