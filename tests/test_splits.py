from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path

import pytest

from mcptrain import specs as s
from mcptrain.dataset import build_dataset
from mcptrain.splits import EVAL_SPLITS, SPLITS, bucket, choose_zero_shot_tools, split_of, unit_hash
from tests.builders import add_example, all_rows, write_project, write_service


def config(**kw: object) -> s.SplitsSpec:
    return s.SplitsSpec.model_validate(kw)


def row(source_id: str = "x-1", **kw: object) -> dict:
    return {"kind": "example", "category": "simple", "target_tools": ["t_get"], "created_at": None,
            "source_id": source_id, **kw}


@pytest.fixture
def org(tmp_path: Path) -> Path:
    write_project(tmp_path)
    write_service(tmp_path, "alpha", tools=5, examples_per_tool=8)
    write_service(tmp_path, "beta", tools=5, examples_per_tool=8)
    write_service(tmp_path, "gamma", tools=5, examples_per_tool=8, critical=True)
    return tmp_path


def splits_by_id(root: Path) -> dict[str, str]:
    return {r["id"]: r["split"] for r in all_rows(root / "datasets")}


def test_the_hash_is_pinned() -> None:
    # Changing it re-splits every user's dataset: a deliberate, announced change only.
    assert unit_hash(42, "pay-001") == 0.37692370358840516
    assert unit_hash(42, "tool:create_payment") == 0.516830343829195


def test_buckets_follow_the_shares() -> None:
    cfg = config()
    counts = Counter(bucket(unit_hash(7, f"id-{i}"), cfg) for i in range(4000))
    assert {k: round(v / 4000, 1) for k, v in counts.items()} == {
        "train": 0.6, "validation": 0.1, "test": 0.1, "holdout": 0.2}


def test_adding_an_example_moves_no_other_row(org: Path) -> None:
    build_dataset(org)
    before = splits_by_id(org)
    add_example(org, "beta", {"id": "beta-new", "query": "an entirely new request about nothing else",
                              "call": {"beta_get": {"ref": "R-new"}}})
    build_dataset(org)
    after = splits_by_id(org)
    assert set(after) - set(before) == {"beta-new"}
    assert {k: after[k] for k in before} == before


def test_zero_shot_tools_never_reach_train(org: Path) -> None:
    report = build_dataset(org)
    chosen = report.manifest["zero_shot_tools"]
    assert {k: len(v) for k, v in chosen.items()} == {"alpha": 1, "beta": 1, "gamma": 0}
    zero = {t for names in chosen.values() for t in names}
    rows = all_rows(org / "datasets")
    assert all(not zero & set(r["target_tools"]) for r in rows if r["split"] in ("train", "validation"))
    assert {r["split"] for r in rows if zero & set(r["target_tools"])} == {"zero_shot"}
    assert len([r for r in rows if r["split"] == "zero_shot"]) == 16


def test_zero_shot_share_is_per_service_and_keeps_one_tool() -> None:
    tools = {"a": [f"a{i}" for i in range(10)], "b": ["b0"], "c": ["c0", "c1"]}
    assert len(choose_zero_shot_tools(tools, config(zero_shot_tools=0.2))) == 2
    assert choose_zero_shot_tools(tools, config(zero_shot_tools=0.2), critical=["a"]) == set()
    every = choose_zero_shot_tools(tools, config(zero_shot_tools=0.99))
    assert len(every) == 9 + 0 + 1
    assert len(choose_zero_shot_tools(tools, config(zero_shot_tools=1.0))) == 13
    assert choose_zero_shot_tools(tools, config(zero_shot_tools=0.0)) == set()


def test_first_matching_rule_wins() -> None:
    cfg = config(time_holdout_after=dt.date(2025, 6, 30))
    assert split_of(row(kind="scenario", target_tools=["z"]), cfg, {"z"}) == "scenarios"
    assert split_of(row(target_tools=["z"], created_at="2026-01-01"), cfg, {"z"}) == "zero_shot"
    assert split_of(row(created_at="2025-07-01"), cfg, set()) == "holdout"
    assert split_of(row(created_at="2025-07-01", category="multi_turn"), cfg, set()) == "orchestration"
    assert split_of(row(created_at="2025-06-30"), cfg, set()) == bucket(unit_hash(42, "x-1"), cfg)


def test_sequences_are_scored_only_in_orchestration() -> None:
    cfg = config()
    seen = {split_of(row(f"seq-{i}", category="multi_turn"), cfg, set()) for i in range(200)}
    assert seen == {"train", "validation", "orchestration"}


def test_time_holdout_in_a_build(tmp_path: Path) -> None:
    write_project(tmp_path, splits={"time_holdout_after": "2025-01-31", "zero_shot_tools": 0})
    write_service(tmp_path, "alpha", tools=2, examples_per_tool=3, extra_examples=[
        {"id": "late", "query": "late example for the holdout", "created_at": "2025-02-01",
         "call": {"alpha_get": {"ref": "R-9"}}}])
    build_dataset(tmp_path)
    assert splits_by_id(tmp_path)["late"] == "holdout"


def test_every_split_file_exists_even_when_empty(org: Path) -> None:
    build_dataset(org)
    for split in SPLITS:
        assert (org / "datasets" / f"{split}.jsonl").is_file()
    assert set(EVAL_SPLITS) < set(SPLITS)
