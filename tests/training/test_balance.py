from collections import Counter

import pytest

from mcptrain.dataset.manifest import behaviour_of
from mcptrain.specs.models import TrainingSpec
from mcptrain.training.balance import apply_floor, floor_counts
from mcptrain.training.masking import mask_rows


def _rows(**counts: int) -> list[dict]:
    rows = []
    for behaviour, n in counts.items():
        for i in range(n):
            row = {"id": f"{behaviour}-{i}", "category": "simple", "messages": [],
                   "tools": [{"type": "function", "function": {"name": "get_order", "parameters": {}}}]}
            if behaviour == "sequence":
                row["category"] = "multi_turn"
            elif behaviour == "parallel":
                row["category"] = "parallel"
            elif behaviour != "call":
                row["category"] = "relevance" if behaviour == "no_tool" else "edge_case"
                row["expected_action"] = behaviour
            rows.append(row)
    return rows


@pytest.mark.parametrize("floor", [0.01, 0.05, 0.08, 0.1, 0.14])
def test_every_behaviour_reaches_the_floor_and_none_loses_rows(floor):
    counts = {"call": 435, "parallel": 40, "sequence": 17, "no_tool": 27, "clarify": 15,
              "ask_for_details": 27, "refuse": 16}
    out = floor_counts(counts, floor)
    total = sum(out.values())
    for b, n in counts.items():
        assert out[b] >= n
        assert out[b] / total >= floor - 1e-9, (b, out[b], total)
    # Only what the floor needs: one row fewer of any raised behaviour would break it.
    for b in counts:
        if out[b] > counts[b]:
            assert (out[b] - 1) / (total - 1) < floor


def test_plentiful_behaviours_keep_their_rows_and_absent_ones_are_not_invented():
    out = floor_counts({"call": 90, "refuse": 10, "clarify": 0}, 0.2)
    assert out["call"] == 90 and "clarify" not in out
    assert out["refuse"] == 23  # 23 / 113 >= 0.2, 22 / 112 < 0.2


def test_a_floor_met_exactly_adds_no_row_for_float_rounding():
    # 0.2 * 12 / 0.8 is 3.0000000000000004: ceil would ask for 4 rows where 3 of 15 hold 0.2
    assert floor_counts({"call": 12, "sequence": 1}, 0.2) == {"call": 12, "sequence": 3}
    assert floor_counts({"call": 12, "sequence": 3}, 0.2) == {"call": 12, "sequence": 3}


def test_floor_zero_changes_nothing_and_an_impossible_floor_is_refused():
    assert floor_counts({"call": 5, "refuse": 1}, 0) == {"call": 5, "refuse": 1}
    with pytest.raises(ValueError, match="cannot hold for 5 behaviours"):
        floor_counts({"call": 5, "refuse": 1, "clarify": 1, "no_tool": 1, "parallel": 1}, 0.2)


def test_apply_floor_copies_rows_with_fresh_ids_and_is_deterministic():
    rows = _rows(call=80, refuse=3, clarify=7)
    out, added = apply_floor(rows, 0.1, seed=7)
    again, _ = apply_floor(rows, 0.1, seed=7)
    assert out == again
    assert out[: len(rows)] == rows  # the originals first, untouched
    behaviours = Counter(behaviour_of(r) for r in out)
    assert behaviours["call"] == 80
    assert added == {"clarify": behaviours["clarify"] - 7, "refuse": behaviours["refuse"] - 3}
    assert all(behaviours[b] / len(out) >= 0.1 for b in behaviours)
    ids = [r["id"] for r in out]
    assert len(set(ids)) == len(ids)
    # Every refusal is repeated the same number of times, give or take one.
    per_row = Counter(r["id"].split("~")[0] for r in out if behaviour_of(r) == "refuse")
    assert max(per_row.values()) - min(per_row.values()) <= 1
    # A copy differs from its row only by id.
    copy = next(r for r in out if r["id"] == "refuse-0~2")
    assert {k: v for k, v in copy.items() if k != "id"} == {k: v for k, v in rows[80].items() if k != "id"}


def test_copies_are_masked_each_on_its_own():
    rows = _rows(call=100, refuse=1)  # 25 rows of one refusal
    out, _ = apply_floor(rows, 0.2, seed=1)
    masked, _ = mask_rows(out, 0.5, seed=3)
    names = {m["tools"][0]["function"]["name"] for m, r in zip(masked, out, strict=True)
             if behaviour_of(r) == "refuse"}
    assert len(names) > 1  # some copies see the real name, some a made-up one


def test_the_spec_field_bounds_the_floor():
    assert TrainingSpec().behaviour_floor == 0
    with pytest.raises(ValueError):
        TrainingSpec(behaviour_floor=0.3)
