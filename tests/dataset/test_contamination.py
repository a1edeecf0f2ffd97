from __future__ import annotations

from pathlib import Path

from rapidfuzz import fuzz

from mcptrain.dataset.build import build_dataset
from mcptrain.dataset.contamination import find_contamination, query_of
from mcptrain.dataset.splits import EVAL_SPLITS, balance
from mcptrain.specs.models import SplitsSpec
from mcptrain.specs.validator import normalize_query
from tests.builders import all_rows, write_project, write_service


def row(row_id: str, query: str, split: str, service: str = "svc") -> dict:
    return {"id": row_id, "service": service, "split": split,
            "messages": [{"role": "system", "content": "s"}, {"role": "user", "content": query}]}


def test_an_exact_duplicate_anywhere_removes_the_train_row() -> None:
    rows = [row("t1", "Refund payment P-1!", "train"), row("t2", "list my open tickets", "train"),
            row("s1", "refund payment p-1", "scenarios", service="other")]
    (removal,) = find_contamination(rows, 0.9)
    assert removal.as_dict() == {"id": "t1", "service": "svc", "query": "Refund payment P-1!",
                                 "matched_id": "s1", "matched_split": "scenarios", "score": 100}


def test_a_near_duplicate_in_the_same_service_is_removed() -> None:
    rows = [row("t1", "show the open tickets for customer C-17", "train"),
            row("t2", "cancel order O-9 for customer C-17", "train"),
            row("h1", "show the open tickets for customer C-18", "holdout"),
            row("x1", "show the open tickets for customer C-19", "validation")]
    removals = find_contamination(rows, 0.9)
    assert [(r.id, r.matched_id, r.score) for r in removals] == [("t1", "h1", 97)]
    assert find_contamination(rows, 0.99) == []


def test_near_duplicates_are_looked_for_within_a_service_only() -> None:
    rows = [row("t1", "show the open tickets for customer C-17", "train", service="a"),
            row("h1", "show the open tickets for customer C-18", "test", service="b")]
    assert find_contamination(rows, 0.9) == []


def pick_ids() -> tuple[str, str, str]:
    """Ids for three extra alpha_get examples that the split puts in train, test and train."""
    cfg = SplitsSpec()
    base = {f"alpha-1-{i}": 1 for i in range(10)}
    for a in range(40):
        for b in range(40):
            for c in range(40):
                ids = (f"dup-{a}", f"dup-{b + 100}", f"near-{c}")
                chosen = balance({**base, **dict.fromkeys(ids, 1)}, cfg)
                if [chosen[i] for i in ids] == ["train", "test", "train"]:
                    return ids
    raise AssertionError("no ids found")


def test_a_build_has_no_scored_query_in_train(tmp_path: Path) -> None:
    write_project(tmp_path, splits={"zero_shot_tools": 0})
    trained, tested, near = pick_ids()
    scenarios = [{"id": "S-1", "query": "alpha fetch that record R-00 now",
                  "expect": {"call": {"alpha_get": {"ref": "R-00"}}}}]
    write_service(tmp_path, "alpha", tools=3, examples_per_tool=10, scenarios=scenarios, extra_examples=[
        {"id": trained, "query": "Alpha, look up R-77", "call": {"alpha_get": {"ref": "R-77"}}},
        {"id": tested, "query": "alpha look up r-77", "call": {"alpha_get": {"ref": "R-77"}}},
        {"id": near, "query": "alpha fetch the record R-00 now",
         "call": {"alpha_get": {"ref": "R-00"}}},
    ])
    report = build_dataset(tmp_path)
    assert [(r.id, r.matched_id, r.score) for r in report.removals] == [
        (trained, tested, 100), (near, "S-1", 95)]
    assert report.manifest["contamination"]["removed"] == 2
    rows = all_rows(tmp_path / "datasets")
    train = [normalize_query(query_of(r)) for r in rows if r["split"] == "train"]
    scored = [normalize_query(query_of(r)) for r in rows if r["split"] in EVAL_SPLITS]
    assert not set(train) & set(scored)
    assert max(fuzz.ratio(a, b) for a in train for b in scored) < 90
