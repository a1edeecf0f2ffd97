"""`datasets/manifest.json`: what a build holds, where it came from, how good it is.

No timestamps and sorted keys: the same specs give the same manifest bytes.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from typing import Any

from mcptrain.dataset.compiler import Row
from mcptrain.dataset.contamination import query_of
from mcptrain.dataset.splits import EVAL_SPLITS, SPLITS, ZeroShot, held_out_tool
from mcptrain.specs.validator import normalize_query

MANIFEST_FORMAT = 1
CATEGORIES = ("simple", "multiple", "parallel", "parallel_multiple", "relevance", "multi_turn", "edge_case")
_WORD = re.compile(r"\w+")
BEHAVIOURS = ("call", "parallel", "sequence", "no_tool", "clarify", "ask_for_details", "refuse")
# A behaviour that is scored needs at least this many training rows, and this share of
# them: below it the model has seen too few to learn it (the demo once had 11 no-tool
# rows in 353 and called a tool for every greeting).
THIN_ROWS, THIN_SHARE = 10, 0.03
# A behaviour that is scored needs at least this many validation rows for the choices made
# on validation (the call-or-answer threshold, the recipe) to see it: the demo once held
# one refusal among 64 validation items, so nothing chosen there could tell refusing from
# asking for details.
UNSEEN_BELOW = 3
# The chapter's volume figures: "min_training_examples: 1_000  # Minimum for LoRA"; "start
# with 10-20 hand-curated examples per tool, expand to 100-200 for production"; its
# `check_balance` flags a tool with fewer than half the mean examples per tool.
MIN_TRAIN_ROWS, START_PER_TOOL, PRODUCTION_PER_TOOL, IMBALANCED_BELOW = 1_000, 10, 100, 0.5


def count_rows(rows: list[Row]) -> dict[str, Any]:
    """Rows per split, and per split within each service, tool and BFCL category."""
    splits: Counter[str] = Counter()
    by: dict[str, dict[str, Counter[str]]] = {k: defaultdict(Counter) for k in ("services", "tools", "categories")}
    for row in rows:
        split = row["split"]
        splits[split] += 1
        by["services"][row["service"]][split] += 1
        by["categories"][row["category"]][split] += 1
        for tool in row["target_tools"]:
            by["tools"][tool][split] += 1
    out: dict[str, Any] = {"splits": {s: splits.get(s, 0) for s in SPLITS}}
    for key, table in by.items():
        out[key] = {name: dict(sorted(c.items())) for name, c in sorted(table.items())}
    return out


def quality_report(rows: list[Row], tools_by_service: dict[str, list[str]], zero_shot: ZeroShot) -> dict[str, Any]:
    """The seed's data-quality figures, over the training data (examples and edge cases)."""
    data = [r for r in rows if r["kind"] != "scenario"]
    examples = [r for r in data if r["kind"] == "example"]
    per_tool = {t: 0 for names in tools_by_service.values() for t in names}
    for row in examples:
        for tool in row["target_tools"]:
            per_tool[tool] = per_tool.get(tool, 0) + 1
    queries = [query_of(r) for r in data]
    words = [w for q in queries for w in _WORD.findall(q.lower())]
    counts = sorted(per_tool.values()) or [0]
    trained = {t for r in data if r["split"] == "train" for t in r["target_tools"]}
    covered = [t for t, n in per_tool.items() if n]
    return {
        "tools": len(per_tool),
        "tools_covered": len(covered),
        "tools_uncovered": sorted(t for t, n in per_tool.items() if not n),
        # examples, yet by the luck of the hash none in train (and not held out on purpose)
        "tools_without_train_rows": sorted(t for t in covered if t not in trained
                                           and t not in {name for _, name in zero_shot}),
        "examples_per_tool": dict(sorted(per_tool.items())),
        "balance": {"min": counts[0], "max": counts[-1],
                    "mean": round(sum(counts) / len(counts), 2),
                    "min_over_max": round(counts[0] / counts[-1], 4) if counts[-1] else 0.0},
        "queries": {"total": len(queries), "unique": len({normalize_query(q) for q in queries})},
        "diversity": {"distinct_word_ratio": round(len(set(words)) / len(words), 4) if words else 0.0,
                      "distinct_words": len(set(words)), "words": len(words)},
        "source_mix": dict(sorted(Counter(r["source"] for r in data).items())),
        "quality_mix": dict(sorted(Counter(r["quality"] for r in data).items())),
        "edge_case_coverage": _edge_coverage(data, tools_by_service),
        "behaviours": behaviour_shares(rows),
        "volume": volume(rows, zero_shot),
    }


def volume(rows: list[Row], zero_shot: ZeroShot) -> dict[str, Any]:
    """Training rows against the chapter's minimum, examples per trained tool against its
    start and production figures, and the tools with under half the mean train rows."""
    train = [r for r in rows if r["split"] == "train"]
    examples: dict[str, set[str]] = defaultdict(set)
    rows_per_tool: Counter[str] = Counter()
    for r in rows:
        if r["kind"] != "example":
            continue
        for tool in r["target_tools"]:
            if not held_out_tool(r, tool, zero_shot):
                examples[tool].add(r["source_id"])
    for r in train:
        rows_per_tool.update(r["target_tools"])
    mean = sum(rows_per_tool.values()) / len(rows_per_tool) if rows_per_tool else 0.0
    per_tool = {t: len(ids) for t, ids in sorted(examples.items())}
    return {"train_rows": len(train), "min_train_rows": MIN_TRAIN_ROWS,
            "examples_per_tool": per_tool,
            "tools_under_start": sorted(t for t, n in per_tool.items() if n < START_PER_TOOL),
            "tools_under_production": sorted(t for t, n in per_tool.items() if n < PRODUCTION_PER_TOOL),
            "imbalanced_tools": {t: n for t, n in sorted(rows_per_tool.items()) if n < IMBALANCED_BELOW * mean},
            "mean_train_rows_per_tool": round(mean, 2)}


def behaviour_of(row: Row) -> str:
    """What the assistant must do: call, parallel, sequence, or a behaviour without a call."""
    if row.get("expected_action"):
        return str(row["expected_action"])
    if row["category"] == "multi_turn":
        return "sequence"
    return "parallel" if row["category"] in ("parallel", "parallel_multiple") else "call"


def behaviour_shares(rows: list[Row]) -> dict[str, Any]:
    """Training, validation and scored rows per behaviour, the training share, the scored
    behaviours with too few training rows (`thin`), and those with too few validation rows
    for a choice made on validation to see them (`unseen`, fewer than `UNSEEN_BELOW`); and
    the scored BFCL categories with too few training rows, with their count (`thin_categories`)."""
    train = Counter(behaviour_of(r) for r in rows if r["split"] == "train")
    validation = Counter(behaviour_of(r) for r in rows if r["split"] == "validation")
    scored = Counter(behaviour_of(r) for r in rows if r["split"] in EVAL_SPLITS)
    total = sum(train.values()) or 1
    thin = _thin(BEHAVIOURS, train, scored, total)
    unseen = [b for b in BEHAVIOURS if scored.get(b) and validation.get(b, 0) < UNSEEN_BELOW]
    # The same test per BFCL category: `parallel` counts parallel_multiple rows too, and the
    # demo's 40 parallel rows held 13 parallel_multiple ones from 3 templates in 2 services.
    category_train = Counter(r["category"] for r in rows if r["split"] == "train")
    category_scored = Counter(r["category"] for r in rows if r["split"] in EVAL_SPLITS)
    thin_categories = _thin(CATEGORIES, category_train, category_scored, total)
    return {"train": {b: train.get(b, 0) for b in BEHAVIOURS},
            "share": {b: round(train.get(b, 0) / total, 4) for b in BEHAVIOURS},
            "validation": {b: validation.get(b, 0) for b in BEHAVIOURS},
            "scored": {b: scored.get(b, 0) for b in BEHAVIOURS}, "thin": thin, "unseen": unseen,
            "thin_categories": {c: category_train.get(c, 0) for c in thin_categories}}


def _thin(names: tuple[str, ...], train: Counter[str], scored: Counter[str], total: int) -> list[str]:
    """The `names` that are scored and have fewer than `THIN_ROWS` training rows or under
    `THIN_SHARE` of the `total`."""
    return [n for n in names if scored.get(n)
            and (train.get(n, 0) < THIN_ROWS or train.get(n, 0) / total < THIN_SHARE)]


def _edge_coverage(data: list[Row], tools_by_service: dict[str, list[str]]) -> dict[str, Any]:
    by_service: dict[str, list[Row]] = defaultdict(list)
    for row in data:
        if row["kind"] == "edge_case":
            by_service[row["service"]].append(row)
    out = {}
    for service, names in sorted(tools_by_service.items()):
        edges = by_service.get(service, [])
        about = {t for r in edges for t in r["target_tools"]}
        out[service] = {
            "edge_cases": len(edges),
            "by_action": dict(sorted(Counter(r["expected_action"] for r in edges).items())),
            "tools_with_edge_cases": len(about),
            "tools": len(names),
        }
    return out


def quality_table(quality: dict[str, Any]) -> list[tuple[str, str]]:
    """The quality report as (figure, value) rows for a table."""
    b, q, d = quality["balance"], quality["queries"], quality["diversity"]
    edges = quality["edge_case_coverage"]
    return [
        ("tools covered", f"{quality['tools_covered']}/{quality['tools']}"),
        ("example rows per tool (min/mean/max)", f"{b['min']}/{b['mean']}/{b['max']}"),
        ("balance (min/max)", f"{b['min_over_max']:.2f}"),
        ("unique queries", f"{q['unique']}/{q['total']}"),
        ("diversity (distinct-word ratio)", f"{d['distinct_word_ratio']:.3f}"),
        ("source mix", _mix(quality["source_mix"])),
        ("quality mix", _mix(quality["quality_mix"])),
        ("services with edge cases", f"{sum(1 for e in edges.values() if e['edge_cases'])}/{len(edges)}"),
        ("edge cases per service (min/max)", _min_max([e["edge_cases"] for e in edges.values()])),
    ]


def _min_max(values: list[int]) -> str:
    return f"{min(values)}/{max(values)}" if values else "0/0"


def _mix(counter: dict[str, int]) -> str:
    total = sum(counter.values()) or 1
    return ", ".join(f"{k} {100 * v / total:.0f}%" for k, v in counter.items()) or "none"
