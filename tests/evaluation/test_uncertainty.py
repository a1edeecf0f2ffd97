from __future__ import annotations

from dataclasses import dataclass

import pytest

from mcptrain.evaluation.uncertainty import describe, families, gains_by, paired_gain


@dataclass(frozen=True)
class R:
    id: str
    source_id: str
    correct: bool
    category: str = "simple"


def runs(spec: dict[str, tuple[int, int, int]]) -> tuple[list[R], list[R]]:
    """Per source: (items, candidate right, base right) -> two runs of items."""
    cand, base = [], []
    for source, (n, c, b) in spec.items():
        for k in range(n):
            cand.append(R(f"{source}#{k}", source, k < c))
            base.append(R(f"{source}#{k}", source, k < b))
    return cand, base


def test_identical_runs_have_a_zero_width_interval() -> None:
    cand, base = runs({f"s{i}": (3, i % 4, i % 4) for i in range(20)})
    gain = paired_gain(cand, base)
    assert gain is not None
    assert (gain["gain"], gain["low"], gain["high"]) == (0.0, 0.0, 0.0)
    assert (gain["items"], gain["sources"]) == (60, 20)


def test_one_family_of_paraphrases_is_one_draw_not_eighteen() -> None:
    # 18 paraphrases of one request all right, ten other requests all wrong: counted as 28
    # independent items the gain of 64 points would look certain; it rests on one family,
    # absent from about a third of the resamples.
    cand, base = runs({"ord-001": (18, 18, 0), **{f"o{i}": (1, 0, 0) for i in range(10)}})
    gain = paired_gain(cand, base)
    assert gain is not None
    assert gain["gain"] == pytest.approx(18 / 28)
    assert gain["low"] == 0.0
    assert gain["gain"] < gain["high"] < 1.0
    # the same outcomes as 28 separate sources: the interval no longer reaches zero
    spread = paired_gain([R(r.id, r.id, r.correct) for r in cand], [R(r.id, r.id, r.correct) for r in base])
    assert spread is not None and spread["low"] > 0.4


def test_items_scored_in_one_run_only_are_left_out() -> None:
    cand, base = runs({"a": (2, 2, 0), "b": (2, 0, 0)})
    assert families(cand, base[:2]) == [(2, 2, 0)]
    assert paired_gain(cand, []) is None


def test_interval_is_seeded_and_contains_the_gain() -> None:
    cand, base = runs({f"s{i}": (1 + i % 3, i % 2 + (i % 3 > 0), (i % 5 == 0)) for i in range(40)})
    one, two = paired_gain(cand, base), paired_gain(cand, base)
    assert one == two and one is not None
    assert one["low"] <= one["gain"] <= one["high"]
    assert one["low"] < one["high"]


def test_gains_by_category_and_description() -> None:
    cand, base = runs({"a": (2, 2, 0), "b": (1, 1, 1)})
    cand = [R(r.id, r.source_id, r.correct, "edge_case" if r.source_id == "b" else "simple") for r in cand]
    by = gains_by(cand, base, "category")
    assert set(by) == {"simple", "edge_case"}
    assert by["edge_case"]["gain"] == 0.0 and by["simple"]["gain"] == 1.0
    assert describe(by["simple"]) == "+100.0 pp (95% interval +100.0 to +100.0 pp over 1 source rows)"
