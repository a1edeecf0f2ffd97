"""Keep every scored query out of train: exact and near-duplicate removal.

A train row is removed when its query equals (after `normalize_query`) the query of
a row in any scored split, anywhere in the organisation, or is a near-duplicate
(rapidfuzz ratio >= `near_duplicate_threshold`) of one in the same service. Near-
duplicates are looked for within a service: across services the same words ask for
different tools, and a cross-organisation matrix would be quadratic in its size.
The train row goes, never the scored one, so the test sets stay as written.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from mcptrain.dataset.compiler import Row
from mcptrain.dataset.splits import EVAL_SPLITS
from mcptrain.specs.validator import normalize_query


@dataclass(frozen=True)
class Removal:
    id: str
    service: str
    query: str
    matched_id: str
    matched_split: str
    score: int  # 100 = the same query after normalisation

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "service": self.service, "query": self.query, "matched_id": self.matched_id,
                "matched_split": self.matched_split, "score": self.score}


def query_of(row: Row) -> str:
    """What the user says in the row: every user turn (a dialogue has several)."""
    return "\n".join(m["content"] for m in row["messages"] if m["role"] == "user")


def find_contamination(rows: list[Row], threshold: float, advance: Any = None) -> list[Removal]:
    """Train rows that leak a scored query, in row order. `advance()` is called per service."""
    from rapidfuzz import fuzz, process

    scored: dict[str, Row] = {}
    scored_by_service: dict[str, list[tuple[str, Row]]] = defaultdict(list)
    train_by_service: dict[str, list[tuple[str, Row]]] = defaultdict(list)
    for row in rows:
        norm = normalize_query(query_of(row))
        if row["split"] in EVAL_SPLITS:
            scored.setdefault(norm, row)
            scored_by_service[row["service"]].append((norm, row))
        elif row["split"] == "train":
            train_by_service[row["service"]].append((norm, row))
    found: dict[str, Removal] = {}
    cutoff = threshold * 100
    for service in sorted({row["service"] for row in rows}):
        train = train_by_service.get(service, [])
        for norm, row in train:
            other = scored.get(norm)
            if other is not None:
                found[row["id"]] = _removal(row, other, 100)
        candidates = scored_by_service.get(service, [])
        choices = [n for n, _ in candidates]
        for norm, row in train if choices else []:
            if row["id"] in found:
                continue
            # extractOne, not cdist: no numpy needed, and the cutoff prunes most pairs early
            best = process.extractOne(norm, choices, scorer=fuzz.ratio, score_cutoff=cutoff)
            if best is not None:
                found[row["id"]] = _removal(row, candidates[best[2]][1], round(best[1]))
        if advance is not None:
            advance()
    return [found[r["id"]] for r in rows if r["id"] in found]


def _removal(row: Row, other: Row, score: int) -> Removal:
    return Removal(row["id"], row["service"], query_of(row), other["id"], other["split"], score)
