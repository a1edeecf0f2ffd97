"""Two rule sets side by side: mcptrain's (`checker.py`) and BFCL's own (`bfcl_rules.py`).

`--rules mcptrain` (the default) scores with the fixed rules; `--rules bfcl` reproduces
BFCL's verdicts, flaws included, so a number compares with the leaderboard; `--rules both`
scores with both and lists every item where they disagree, with each side's reason.

BFCL's rules read BFCL's own function docs and answers: an imported item's come from the
`bfcl_answers.json` sidecar; any other row's are derived from its tools and its expected
calls (JSON Schema types written back as BFCL's names), so the whole organisation can be
scored the way BFCL would score it.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mcptrain.errors import StageError
from mcptrain.evaluation.bfcl_rules import check_bfcl
from mcptrain.evaluation.calls import Expected, OneOf
from mcptrain.evaluation.checker import Match
from mcptrain.evaluation.parsing import parse_output
from mcptrain.evaluation.report import EvalItem, ItemResult, Raw, eval_items, result_of

RULES = ("mcptrain", "bfcl", "both")
_BFCL_TYPES = {"object": "dict", "number": "float"}  # JSON Schema -> BFCL; the rest are spelled alike
_CATEGORIES = {"simple": "simple", "multiple": "multiple", "parallel": "parallel",
               "parallel_multiple": "parallel_multiple", "multi_turn": "simple", "zero_shot": "simple"}


@dataclass(frozen=True)
class BfclItem:
    """What BFCL's checker reads: the item's function docs, its answer, its category."""

    functions: tuple[Mapping[str, Any], ...]
    ground_truth: tuple[Mapping[str, Any], ...] | None
    bfcl_category: str


def load_bfcl_items(path: Path) -> dict[str, BfclItem]:
    """The items of a `bfcl_answers.json` sidecar that carry BFCL's function docs."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise StageError(f"{path}: cannot read answers ({e})") from None
    items = data.get("items") if isinstance(data, dict) else None
    if not isinstance(items, dict):
        raise StageError(f"{path}: expected an object with 'items' (a bfcl_answers.json sidecar)")
    return {item_id: BfclItem(tuple(item["functions"]), tuple(item["ground_truth"]) if item.get("ground_truth")
                              else None, str(item.get("bfcl_category") or item.get("category")))
            for item_id, item in items.items() if isinstance(item, dict) and "functions" in item}


def score_bfcl(rows: Sequence[Mapping[str, Any]], outputs: Mapping[str, Raw],
               answers: Mapping[str, Expected], items: Mapping[str, BfclItem]) -> list[ItemResult]:
    """Every scored item of `rows` judged by BFCL's rules."""
    results = []
    for item in eval_items(rows, answers):
        bfcl = items.get(str(item.row["id"])) or derived_item(item)
        if item.id in outputs:
            match = check_bfcl(parse_output(outputs[item.id]), bfcl.functions, bfcl.ground_truth, bfcl.bfcl_category)
        else:
            match = Match("malformed", False, "no output for this item")
        results.append(result_of(item, match))
    return results


def derived_item(item: EvalItem) -> BfclItem:
    """BFCL's view of a row it never saw: its tools as BFCL docs, its answer as BFCL's."""
    functions = tuple(_bfcl_doc(t) for t in item.row.get("tools") or [])
    expected = item.expected
    if expected.action is not None or not expected.calls:
        return BfclItem(functions, None, "live_relevance" if expected.action == "use_tool" else "irrelevance")
    truth = tuple({c.name: {k: _bfcl_values(v) for k, v in c.arguments.items()}} for c in expected.calls)
    return BfclItem(functions, truth, _CATEGORIES.get(item.category, "simple"))


def compare(mcptrain: Sequence[ItemResult], bfcl: Sequence[ItemResult],
            categories: Mapping[str, str]) -> dict[str, Any]:
    """Both accuracies per category (BFCL's own where known) and every disagreement."""
    by: dict[str, list[tuple[bool, bool]]] = defaultdict(list)
    disagreements = []
    for ours, theirs in zip(mcptrain, bfcl, strict=True):
        category = categories.get(ours.row_id, ours.category)
        by[category].append((ours.correct, theirs.correct))
        if ours.correct != theirs.correct:
            disagreements.append({"id": ours.id, "category": category,
                                  "mcptrain": {"correct": ours.correct, "reason": ours.reason},
                                  "bfcl": {"correct": theirs.correct, "reason": theirs.reason}})

    def score(flags: list[tuple[bool, bool]], side: int) -> dict[str, Any]:
        n = len(flags)
        correct = sum(f[side] for f in flags)
        return {"n": n, "correct": correct, "accuracy": correct / n if n else 0.0}

    every = [f for flags in by.values() for f in flags]
    return {"overall": {"mcptrain": score(every, 0), "bfcl": score(every, 1)},
            "by_category": {k: {"mcptrain": score(v, 0), "bfcl": score(v, 1)} for k, v in sorted(by.items())},
            "disagreements": disagreements}


def render_comparison(data: Mapping[str, Any]) -> str:
    """The Markdown section of `--rules both`."""
    lines = ["## mcptrain's rules and BFCL's", "",
             "| category | n | mcptrain | BFCL | disagree |", "|---|---:|---:|---:|---:|"]
    counts: dict[str, int] = defaultdict(int)
    for d in data["disagreements"]:
        counts[d["category"]] += 1
    for key, pair in [*data["by_category"].items(), ("overall", data["overall"])]:
        n = pair["mcptrain"]["n"]
        disagree = sum(counts.values()) if key == "overall" else counts[key]
        lines.append(f"| {key} | {n} | {100 * pair['mcptrain']['accuracy']:.1f}% "
                     f"| {100 * pair['bfcl']['accuracy']:.1f}% | {disagree} |")
    if data["disagreements"]:
        lines += ["", f"<details><summary>{len(data['disagreements'])} items where the rules disagree</summary>",
                  "", "| id | category | mcptrain | BFCL |", "|---|---|---|---|"]
        for d in data["disagreements"]:
            lines.append(f"| {_cell(d['id'])} | {d['category']} | {_verdict(d['mcptrain'])} | {_verdict(d['bfcl'])} |")
        lines += ["", "</details>"]
    return "\n".join(lines) + "\n"


def _verdict(side: Mapping[str, Any]) -> str:
    return ("right: " if side["correct"] else "wrong: ") + _cell(side["reason"])


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _bfcl_doc(tool: Mapping[str, Any]) -> dict[str, Any]:
    fn = tool.get("function", tool)
    return {"name": fn["name"], "description": fn.get("description", ""),
            "parameters": _bfcl_schema(fn.get("parameters") or fn.get("inputSchema") or {})}


def _bfcl_schema(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    out = {k: _bfcl_schema(v) if k in ("items", "additionalProperties") else v for k, v in node.items()}
    if isinstance(node.get("type"), str):
        out["type"] = _BFCL_TYPES.get(node["type"], node["type"])
    elif "type" not in node:
        out["type"] = "any"
    if isinstance(node.get("properties"), dict):
        out["properties"] = {k: _bfcl_schema(v) for k, v in node["properties"].items()}
    return out


def _bfcl_values(alts: OneOf) -> list[Any]:
    return [*(_bfcl_value(v) for v in alts.values), *([""] if alts.may_omit else [])]


def _bfcl_value(value: Any) -> Any:
    if isinstance(value, dict):  # BFCL's dict answers hold a list of acceptable values per key
        return {k: _bfcl_values(v if isinstance(v, OneOf) else OneOf((v,))) for k, v in value.items()}
    if isinstance(value, list):
        return [_bfcl_value(v) for v in value]
    return value
