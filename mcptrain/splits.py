"""Deterministic, stable split assignment.

A row's split is a function of the seed and the row's own spec id (and of its
service's tool names), never of its position in a list: adding, removing or editing
one example moves no other row. Template expansions share their example's id, so
the paraphrases of one example never straddle train and test (the per-tool phrasing
split).

Order of the rules, first match wins:
1. test scenarios (kind `scenario`) -> `scenarios`; never trained on;
2. rows about a zero-shot tool (it is called, or the edge case names it) -> `zero_shot`;
3. `created_at` after `splits.time_holdout_after` -> `holdout`;
4. otherwise the seeded hash of the source id picks train/validation/test/holdout by
   the configured shares;
5. multi-step sequences that land in test or holdout go to `orchestration` instead
   (those in train/validation stay: the model must see tool results to learn to use them).

Zero-shot tools are chosen per service, so an edit in one service never changes another
service's choice: the `floor(share * n + 0.5)` tools with the lowest seeded hash of their
name, keeping at least one tool of every service in training. Critical services
(`critical: true`) hold out none: their scenarios gate at the critical threshold, and a
model never taught their tools would be gated on guesses.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable

from mcptrain import specs as s
from mcptrain.compiler import Row

TRAIN_SPLITS = ("train", "validation", "test", "holdout")
SPLITS = (*TRAIN_SPLITS, "zero_shot", "orchestration", "scenarios")
# The splits a model is scored on; none of their queries may appear in train.
EVAL_SPLITS = ("test", "holdout", "zero_shot", "orchestration", "scenarios")


def unit_hash(seed: int, key: str) -> float:
    """A uniform number in [0, 1) from the seed and a key (stable across runs and machines)."""
    digest = hashlib.sha256(f"{seed}\x00{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def choose_zero_shot_tools(tools_by_service: dict[str, list[str]], config: s.SplitsSpec,
                           critical: Iterable[str] = ()) -> set[str]:
    chosen: set[str] = set()
    exempt = set(critical)
    for service, names in tools_by_service.items():
        if not names or service in exempt:
            continue
        k = math.floor(config.zero_shot_tools * len(names) + 0.5)
        if config.zero_shot_tools < 1:
            k = min(k, len(names) - 1)
        ranked = sorted(names, key=lambda n: (unit_hash(config.seed, f"tool:{n}"), n))
        chosen.update(ranked[:k])
    return chosen


def split_of(row: Row, config: s.SplitsSpec, zero_shot: set[str]) -> str:
    if row["kind"] == "scenario":
        return "scenarios"
    if zero_shot and not zero_shot.isdisjoint(row["target_tools"]):
        return "zero_shot"
    cutoff = config.time_holdout_after
    if cutoff is not None and row["created_at"] is not None and row["created_at"] > cutoff.isoformat():
        split = "holdout"
    else:
        split = bucket(unit_hash(config.seed, row["source_id"]), config)
    if row["category"] == "multi_turn" and split in ("test", "holdout"):
        return "orchestration"
    return split


def bucket(u: float, config: s.SplitsSpec) -> str:
    edge = 0.0
    for name in TRAIN_SPLITS:
        edge += getattr(config, name)
        if u < edge:
            return name
    return "holdout"  # shares sum to 1.0 up to rounding


def assign_splits(rows: Iterable[Row], config: s.SplitsSpec, zero_shot: set[str]) -> None:
    for row in rows:
        row["split"] = split_of(row, config, zero_shot)
