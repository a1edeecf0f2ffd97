"""Score canonical rows and write the evaluation report (JSON, Markdown, a chart).

A row becomes one scored item, or one per assistant step for `multi_turn` rows
(`<row id>@step<n>`, each scored given the true history before it). A dialogue row
(`scored_from`) is scored from its answer on: the assistant turns of the conversation
before it are history. A row's `accept` (a scenario's `one_of` or argument alternatives)
is what its first scored step may answer, and `accept_steps` what each later step of a
multi-step answer may (the options that agree with the history so far). `eval_items`
gives the prompts a Predictor answers; `score_rows` checks the outputs; `write_report`
writes `report.json`, `report.md` and `accuracy.png`, each atomically.
"""

from __future__ import annotations

import io
import json
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from mcptrain.evaluation.calls import Expected
from mcptrain.evaluation.checker import CATEGORIES, Match, categorize, check_with_mistakes
from mcptrain.evaluation.parsing import parse_output
from mcptrain.evaluation.uncertainty import describe, gains_by, paired_gain
from mcptrain.files import replace_file

REPORT_FORMAT = 1
DIMENSIONS = ("category", "service", "split", "priority", "scenario")  # ItemResult fields
Raw = str | Mapping[str, Any] | None


@dataclass(frozen=True)
class EvalItem:
    """One step to score: the prompt a model sees and the answer it should give."""

    id: str
    row: Mapping[str, Any]
    prompt: list[dict[str, Any]]
    expected: Expected
    category: str


@dataclass(frozen=True)
class ItemResult:
    id: str
    row_id: str
    category: str
    service: str
    split: str
    priority: str
    scenario: str | None  # the scenario id, for TestScenarios rows
    min_accuracy_required: float | None
    outcome: str
    correct: bool
    reason: str
    tags: tuple[str, ...] = ()  # the scenario's tags (payment, security, ...): the `tag` table
    source_id: str = ""  # the spec entry the row came from: its paraphrases and steps share it


def eval_items(rows: Sequence[Mapping[str, Any]],
               answers: Mapping[str, Expected] | None = None) -> list[EvalItem]:
    """The scored steps of `rows`; `answers` (by row or source id) replaces a row's own answer,
    e.g. BFCL's acceptable values from a `bfcl_answers.json` sidecar."""
    items: list[EvalItem] = []
    for row in rows:
        messages = list(row["messages"])
        start = int(row.get("scored_from") or 0)
        steps = [i for i, m in enumerate(messages) if m.get("role") == "assistant" and i >= start]
        if not steps:
            raise ValueError(f"row {row['id']!r} has no assistant turn to score")
        category = categorize(row)
        override = (answers or {}).get(row["id"]) or (answers or {}).get(row.get("source_id", ""))
        if override is None and row.get("accept"):
            override = Expected.from_accept(row["accept"])
        if row.get("expected_action"):
            expected = Expected.behaviour(row["expected_action"], row.get("required_fields") or ())
            items.append(EvalItem(row["id"], row, messages[: steps[0]], override or expected, category))
        elif len(steps) == 1:
            expected = override or Expected.from_message(messages[steps[0]])
            items.append(EvalItem(row["id"], row, messages[: steps[0]], expected, category))
        else:
            later = row.get("accept_steps") or {}
            for n, i in enumerate(steps, 1):
                if n == 1 and row.get("accept"):
                    expected = override or Expected.from_message(messages[i])
                elif str(n) in later:  # a later step of a scenario's `one_of` or alternatives
                    expected = Expected.from_accept(later[str(n)])
                else:
                    expected = Expected.from_message(messages[i])
                items.append(EvalItem(f"{row['id']}@step{n}", row, messages[:i], expected, category))
    return items


def score_rows(rows: Sequence[Mapping[str, Any]], outputs: Mapping[str, Raw],
               answers: Mapping[str, Expected] | None = None) -> list[ItemResult]:
    """Check each item's output (by item id); an item without one is a malformed failure."""
    results = []
    for item in eval_items(rows, answers):
        if item.id in outputs:
            match = check_with_mistakes(parse_output(outputs[item.id]), item.expected, item.row.get("tools") or (),
                                        item.row.get("common_mistakes") or ())
        else:
            match = Match("malformed", False, "no output for this item")
        results.append(result_of(item, match))
    return results


def result_of(item: EvalItem, match: Match) -> ItemResult:
    row = item.row
    source = str(row.get("source_id") or row["id"])
    return ItemResult(
        id=item.id, row_id=str(row["id"]), category=item.category,
        service=str(row.get("service") or "-"), split=str(row.get("split") or "-"),
        priority=str(row.get("priority") or "normal"),
        scenario=source if row.get("kind") == "scenario" else None,
        min_accuracy_required=row.get("min_accuracy_required"),
        outcome=match.outcome, correct=match.correct, reason=match.reason,
        tags=tuple(str(t) for t in row.get("tags") or ()),
        source_id=source,
    )


def counts_as_zero_shot(r: ItemResult) -> bool:
    """Whether the category table also counts `r` under zero_shot: an item of a tool never
    seen in training (the zero-shot split), whatever its own category."""
    return r.split == "zero_shot" and r.category != "zero_shot"


def summarize(results: Sequence[ItemResult]) -> dict[str, Any]:
    """Accuracy overall and per category, service, split, priority, scenario and tag (an
    item counts once under each of its scenario's tags: tags cut across services)."""
    groups: dict[str, dict[str, list[bool]]] = {d: defaultdict(list) for d in (*DIMENSIONS, "tag")}
    for r in results:
        for dim in DIMENSIONS:
            key = getattr(r, dim)
            if key is not None:
                groups[dim][key].append(r.correct)
        for tag in r.tags:
            groups["tag"][tag].append(r.correct)
        if counts_as_zero_shot(r):
            groups["category"]["zero_shot"].append(r.correct)
    return {
        "overall": _score([r.correct for r in results]),
        "by": {dim: {k: _score(v) for k, v in sorted(g.items(), key=lambda kv: _order(dim, kv[0]))}
               for dim, g in groups.items()},
        "outcomes": dict(sorted(Counter(r.outcome for r in results).items())),
        "scenario_checks": scenario_checks(results),
    }


def scenario_checks(results: Sequence[ItemResult]) -> list[dict[str, Any]]:
    """Each scenario with `min_accuracy_required`: its accuracy and whether it passes."""
    by: dict[str, list[ItemResult]] = defaultdict(list)
    for r in results:
        if r.scenario is not None and r.min_accuracy_required is not None:
            by[r.scenario].append(r)
    out = []
    for scenario, items in sorted(by.items()):
        accuracy = sum(r.correct for r in items) / len(items)
        required = float(items[0].min_accuracy_required or 0.0)
        out.append({"scenario": scenario, "service": items[0].service, "priority": items[0].priority,
                    "required": required, "accuracy": accuracy, "passed": accuracy >= required,
                    "n": len(items)})
    return out


def _score(flags: Sequence[bool]) -> dict[str, Any]:
    n = len(flags)
    return {"n": n, "correct": sum(flags), "accuracy": sum(flags) / n if n else 0.0}


def _order(dim: str, key: str) -> tuple[int, str]:
    if dim == "category" and key in CATEGORIES:
        return CATEGORIES.index(key), key
    if dim == "priority" and key in ("critical", "high", "normal"):
        return ("critical", "high", "normal").index(key), key
    return len(CATEGORIES), key


@dataclass(frozen=True)
class WrittenReport:
    json: Path
    markdown: Path
    chart: Path | None  # None when matplotlib is not installed or the chart was not asked for
    summary: dict[str, Any]
    gain: dict[str, Any] | None = None  # report.json's `gain`: the gain over the base model, with intervals


def write_report(out_dir: Path, candidate: Sequence[ItemResult],
                 baseline: Sequence[ItemResult] | None = None, *, chart: bool = True,
                 raw: Sequence[ItemResult] | None = None,
                 diagnostics: Sequence[ItemResult] | None = None, rules: str = "mcptrain",
                 comparison: tuple[dict[str, Any], str] | None = None) -> WrittenReport:
    """Write report.json, report.md and accuracy.png (base vs candidate) into `out_dir`.
    `raw`: the candidate decoded without the grammar, reported beside it; `diagnostics`: the
    candidate on validation and seen (training) rows, reported apart and never gated.
    `rules`: the rule set that scored it; `comparison`: `--rules both`'s data and its
    Markdown section."""
    data = report_data(candidate, baseline, raw, diagnostics)
    if rules != "mcptrain":
        data["rules"] = rules
    if comparison is not None:
        data["rules_comparison"] = comparison[0]
    out_dir.mkdir(parents=True, exist_ok=True)
    replace_file(out_dir / "report.json", (json.dumps(data, indent=2, sort_keys=True) + "\n").encode())
    markdown = render_markdown(data) + ("\n" + comparison[1] if comparison is not None else "")
    replace_file(out_dir / "report.md", markdown.encode())
    png = _chart(data) if chart else None
    if png is not None:
        replace_file(out_dir / "accuracy.png", png)
    return WrittenReport(out_dir / "report.json", out_dir / "report.md",
                         out_dir / "accuracy.png" if png is not None else None, data["candidate"],
                         data.get("gain"))


def report_data(candidate: Sequence[ItemResult], baseline: Sequence[ItemResult] | None = None,
                raw: Sequence[ItemResult] | None = None,
                diagnostics: Sequence[ItemResult] | None = None) -> dict[str, Any]:
    base_by_id = {r.id: r for r in baseline or ()}
    raw_by_id = {r.id: r for r in raw or ()}
    items = []
    for r in candidate:
        item = _item(r)
        if r.id in base_by_id:
            b = base_by_id[r.id]
            item["baseline"] = {"outcome": b.outcome, "correct": b.correct, "reason": b.reason}
        if r.id in raw_by_id:
            u = raw_by_id[r.id]
            item["candidate_raw"] = {"outcome": u.outcome, "correct": u.correct, "reason": u.reason}
        items.append(item)
    data = {"format": REPORT_FORMAT, "candidate": summarize(candidate),
            "baseline": summarize(baseline) if baseline is not None else None, "items": items}
    if raw is not None:
        data["candidate_raw"] = summarize(raw)
    if baseline is not None and (gain := paired_gain(candidate, baseline)) is not None:
        by_category = gains_by(candidate, baseline, "category")
        unseen = [r for r in candidate if counts_as_zero_shot(r)]
        if unseen and (zero_shot := paired_gain(unseen, baseline)) is not None:
            by_category["zero_shot"] = zero_shot  # as the category table counts it (above)
        data["gain"] = {"overall": gain, "by_category": by_category}
    if diagnostics:
        by_split: dict[str, list[ItemResult]] = defaultdict(list)
        for r in diagnostics:
            by_split[r.split].append(r)
        data["diagnostics"] = {split: summarize(rs) for split, rs in sorted(by_split.items())}
        data["diagnostic_items"] = [_item(r) for r in diagnostics]
    return data


def _item(r: ItemResult) -> dict[str, Any]:
    item = {k: v for k, v in asdict(r).items() if k not in ("outcome", "correct", "reason")}
    item["candidate"] = {"outcome": r.outcome, "correct": r.correct, "reason": r.reason}
    return item


def render_markdown(data: Mapping[str, Any]) -> str:
    """Markdown tables a pull-request body can embed."""
    cand, base, raw = data["candidate"], data["baseline"], data.get("candidate_raw")
    lines = ["## Evaluation", ""]
    o = cand["overall"]
    head = f"Overall: **{_pct(o['accuracy'])}** ({o['correct']}/{o['n']})"
    if base is not None:
        b = base["overall"]
        gain = (data.get("gain") or {}).get("overall")
        head += (f" · base {_pct(b['accuracy'])} ({b['correct']}/{b['n']}) · Δ "
                 + (describe(gain) if gain else _delta(b, o)))
    if raw is not None:
        head += f" · candidate without the grammar {_pct(raw['overall']['accuracy'])}"
    lines += [head, ""]
    if data.get("gain"):
        lines += ["The interval resamples source rows, not items: a spec entry's paraphrases and a "
                  "dialogue's steps succeed or fail together (per category in report.json, `gain`).", ""]
    for dim in (*DIMENSIONS, "tag"):
        if dim == "scenario" or not cand["by"].get(dim):
            continue
        extra = " unconstrained |" if raw is not None else ""
        lines += [f"| {dim} | base | candidate | Δ |{extra} n |", "|---|---:|---:|---:|" + ("---:|" if raw else "") + "---:|"]
        for key, c in cand["by"][dim].items():
            b = (base or {}).get("by", {}).get(dim, {}).get(key)
            u = (raw or {}).get("by", {}).get(dim, {}).get(key)
            cell = (f" {_pct(u['accuracy']) if u else '—'} |" if raw is not None else "")
            lines.append(f"| {_cell(key)} | {_pct(b['accuracy']) if b else '—'} | {_pct(c['accuracy'])} "
                         f"| {_delta(b, c) if b else '—'} |{cell} {c['n']} |")
        lines.append("")
    if cand["scenario_checks"]:
        lines += ["| scenario | priority | required | accuracy | status |", "|---|---|---:|---:|---|"]
        for s in cand["scenario_checks"]:
            status = "pass" if s["passed"] else "**FAIL**"
            lines.append(f"| {_cell(s['scenario'])} | {s['priority']} | {_pct(s['required'])} "
                         f"| {_pct(s['accuracy'])} | {status} |")
        lines.append("")
    lines += _diagnostics_markdown(data.get("diagnostics"))
    failures = [i for i in data["items"] if not i["candidate"]["correct"]]
    if failures:
        lines += [f"<details><summary>{len(failures)} failing items</summary>", "",
                  "| id | category | outcome | reason |", "|---|---|---|---|"]
        for i in failures[:50]:
            c = i["candidate"]
            lines.append(f"| {_cell(i['id'])} | {i['category']} | {c['outcome']} | {_cell(c['reason'])} |")
        if len(failures) > 50:
            lines.append(f"| … | | | and {len(failures) - 50} more in report.json |")
        lines += ["", "</details>", ""]
    return "\n".join(lines)


DIAGNOSTIC_NAMES = {"validation": "validation (unseen phrasings, not gated)",
                    "train": "seen phrasings (a sample of train rows)"}


def _diagnostics_markdown(diagnostics: Mapping[str, Any] | None) -> list[str]:
    """Validation and seen-phrasing accuracy, apart from the scored splits: high on seen rows
    and low on the scored ones is memorising; low on both is failing to learn."""
    if not diagnostics:
        return []
    lines = ["### Diagnostics (not gated)", "", "| slice | candidate | n |", "|---|---:|---:|"]
    for split, summary in diagnostics.items():
        o = summary["overall"]
        lines.append(f"| {DIAGNOSTIC_NAMES.get(split, split)} | {_pct(o['accuracy'])} | {o['n']} |")
    return [*lines, ""]


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _delta(base: Mapping[str, Any], cand: Mapping[str, Any]) -> str:
    return f"{100 * (cand['accuracy'] - base['accuracy']):+.1f} pp"


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _chart(data: Mapping[str, Any]) -> bytes | None:
    try:  # the `report` extra; imported here so scoring never pays for it
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        return None
    cand, base = data["candidate"]["by"]["category"], (data["baseline"] or {}).get("by", {}).get("category", {})
    names = list(cand)
    fig = Figure(figsize=(max(5.0, 1.2 * len(names) + 2), 3.6))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    width = 0.4 if base else 0.6
    xs = range(len(names))
    if base:
        ax.bar([x - width / 2 for x in xs], [100 * base.get(n, {}).get("accuracy", 0.0) for n in names],
               width, label="base", color="#9aa5b1")
    ax.bar([x + (width / 2 if base else 0) for x in xs], [100 * cand[n]["accuracy"] for n in names],
           width, label="candidate", color="#2f6fde")
    ax.set_xticks(list(xs), names, rotation=20, ha="right")
    ax.set_ylim(0, 100)
    ax.set_ylabel("accuracy (%)")
    ax.set_title("Accuracy by category")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    fig.subplots_adjust(bottom=0.28, top=0.9, right=0.82)  # fixed margins: tight_layout costs 0.3 s
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return buf.getvalue()


