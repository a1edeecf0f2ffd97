"""How far a scored difference can be trusted: a paired bootstrap over source rows.

The scored splits are not independent items. A spec entry with a template expands into
many paraphrases of one request (the demo's `ord-001` is 18 zero-shot items), and a
multi-turn row is scored once a step; a model gets such a family right or wrong together.
Counting its items as independent makes a difference look far surer than it is: on the
demo, four families are 51 of the 67 zero-shot items, and two runs of one recipe on two
CPUs moved the zero-shot score between 7.5% and 25.4% (docs/measurements.md).

So the report gives the candidate's gain over the base model with a percentile interval
from a paired cluster bootstrap: families (items sharing a `source_id`) are drawn with
replacement, each drawn family bringing all its items, both models scored on the same
draw; the interval is the middle `level` of the resampled differences. It is seeded, so a
report is reproducible. Read it as "a difference this wide is what the family count
allows": a change inside it is not evidence that one adapter is better than another.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

RESAMPLES = 2000
LEVEL = 0.95
SEED = 0


class Scored(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def source_id(self) -> str: ...
    @property
    def correct(self) -> bool: ...


def families(candidate: Sequence[Scored], baseline: Sequence[Scored]) -> list[tuple[int, int, int]]:
    """Per family (source row) with an item in both runs: (items, candidate right, base right)."""
    base = {r.id: r.correct for r in baseline}
    groups: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for r in candidate:
        if r.id not in base:
            continue
        g = groups[r.source_id or r.id]
        g[0] += 1
        g[1] += int(r.correct)
        g[2] += int(base[r.id])
    return [(n, c, b) for n, c, b in groups.values()]


def paired_gain(candidate: Sequence[Scored], baseline: Sequence[Scored], *, resamples: int = RESAMPLES,
                level: float = LEVEL, seed: int = SEED) -> dict[str, Any] | None:
    """The candidate's accuracy minus the base model's, with its bootstrap interval; None
    when no item was scored in both runs."""
    fams = families(candidate, baseline)
    if not fams:
        return None
    items = sum(n for n, _, _ in fams)
    gain = sum(c - b for _, c, b in fams) / items
    rng = random.Random(seed)
    draws = []
    for _ in range(resamples):
        n = diff = 0
        for k in rng.choices(range(len(fams)), k=len(fams)):
            n += fams[k][0]
            diff += fams[k][1] - fams[k][2]
        draws.append(diff / n)
    draws.sort()
    tail = (1 - level) / 2
    low = draws[min(len(draws) - 1, int(tail * len(draws)))]
    high = draws[max(0, int((1 - tail) * len(draws)) - 1)]
    return {"gain": gain, "low": low, "high": high, "level": level, "items": items,
            "sources": len(fams), "resamples": resamples}


def gains_by(candidate: Sequence[Any], baseline: Sequence[Any], dimension: str) -> dict[str, Any]:
    """`paired_gain` per value of an ItemResult field (category, split, ...)."""
    groups: dict[str, list[Any]] = defaultdict(list)
    for r in candidate:
        groups[str(getattr(r, dimension))].append(r)
    out: dict[str, Any] = {}
    for key, rs in groups.items():
        found = paired_gain(rs, baseline)
        if found is not None:
            out[key] = found
    return out


def describe(gain: Mapping[str, Any]) -> str:
    """'+9.6 pp (95% interval -2.4 to +21.0 pp over 60 source rows)'."""
    return (f"{100 * gain['gain']:+.1f} pp ({100 * gain['level']:.0f}% interval "
            f"{100 * gain['low']:+.1f} to {100 * gain['high']:+.1f} pp over {gain['sources']} source rows)")
