"""Behaviour floors: thin behaviours repeated in the training rows until they hold a share.

An organisation's examples are mostly calls: the demo's training split holds 435 single
calls against 15 clarifications and 16 refusals, so a step sees a clarification about
once in five batches and the reply's opening words (`Which order do you mean?` against
`I can't ...`) carry little of the loss. With `training.behaviour_floor: s`, every
behaviour the training split holds (`dataset.manifest.behaviour_of`: call, parallel,
sequence, no_tool, clarify, ask_for_details, refuse) below a share `s` of the rows is
repeated until it holds `s` of the result: whole copies first, then a seeded choice of its
rows for the remainder. Axolotl and LLaMA-Factory do the same with per-dataset sampling
weights (`interleave_datasets` probabilities); here the datasets are the behaviours, which
the specs declare row by row.

Copies get ids `<id>~<n>`, so tool-name masking draws for each copy on its own. The number
of steps does not change: a floor moves the budget from the plentiful behaviours to the
thin ones. Behaviours the split does not hold are not invented; validation rows are never
repeated. Deterministic: a pure function of (rows, floor, seed).
"""

from __future__ import annotations

import math
import random
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

from mcptrain.dataset.manifest import BEHAVIOURS, behaviour_of

_EPS = 1e-9


def floor_counts(counts: dict[str, int], floor: float) -> dict[str, int]:
    """How many rows each behaviour holds after the floor: the smallest counts, never below
    a behaviour's own, in which every behaviour holds at least `floor` of the total.

    The behaviours at or above the floor keep their rows (`kept`); each thin one gets `n`
    rows where n / (kept + thin * n) >= floor, i.e. n = ceil(floor * kept / (1 - thin * floor)).
    A behaviour raised to the floor can push another under it only through `kept`, so the
    thin set is grown until it is stable."""
    if not 0 <= floor < 1:
        raise ValueError(f"behaviour floor must be in [0, 1), got {floor}")
    present = {b: n for b, n in counts.items() if n > 0}
    if floor <= 0 or not present:
        return dict(present)
    if floor * len(present) >= 1:
        raise ValueError(f"a behaviour floor of {floor:g} cannot hold for {len(present)} behaviours "
                         f"(at most {1 / len(present):.3f} each)")
    thin: set[str] = set()
    while True:
        kept = sum(n for b, n in present.items() if b not in thin)
        # _EPS: 0.2 * 12 / 0.8 is 3.0000000000000004 in floats, and 3 rows of 15 hold 0.2.
        target = math.ceil(floor * kept / (1 - len(thin) * floor) - _EPS) if thin else 0
        total = kept + len(thin) * target
        grown = {b for b, n in present.items() if max(n, target if b in thin else n) < floor * total - _EPS}
        if not grown - thin:
            return {b: max(n, target) if b in thin else n for b, n in present.items()}
        thin |= grown


def apply_floor(rows: Sequence[dict[str, Any]], floor: float, seed: int) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """`rows` with every thin behaviour repeated up to `floor` (see the module docstring),
    and how many rows were added per behaviour (only those that got any)."""
    by_behaviour: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_behaviour[behaviour_of(row)].append(row)
    counts = {b: len(rs) for b, rs in by_behaviour.items()}
    wanted = floor_counts(counts, floor)
    out = list(rows)
    added: dict[str, int] = {}
    for behaviour in sorted(by_behaviour, key=lambda b: (BEHAVIOURS.index(b) if b in BEHAVIOURS else len(BEHAVIOURS), b)):
        members = by_behaviour[behaviour]
        extra = wanted[behaviour] - len(members)
        if extra <= 0:
            continue
        whole, rest = divmod(extra, len(members))
        rng = random.Random(f"{seed}:floor:{behaviour}")
        picks = [m for _ in range(whole) for m in members] + rng.sample(members, rest)
        copies: Counter[str] = Counter()
        for row in picks:
            key = str(row.get("id"))
            copies[key] += 1
            out.append({**row, "id": f"{key}~{copies[key] + 1}"})  # the row itself is ~1
        added[behaviour] = extra
    return out, added
