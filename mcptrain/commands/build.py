from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from mcptrain import output
from mcptrain.errors import SpecError
from mcptrain.workspace import Workspace


def run(root: Path, *, push: bool = False, no_dvc: bool = False, workspace: Workspace | None = None) -> int:
    from mcptrain.dataset.build import build_dataset
    from mcptrain.dataset.manifest import (
        CATEGORIES,
        THIN_ROWS,
        THIN_SHARE,
        UNSEEN_BELOW,
        quality_table,
    )
    from mcptrain.dataset.splits import SPLITS
    if push and no_dvc:
        output.error("--push needs DVC; drop --no-dvc")
        return 2
    ws = workspace or Workspace(root)
    started = time.perf_counter()
    try:
        report = build_dataset(root, ws.load_specs())
    except SpecError as e:
        output.diagnostics(e.diagnostics)
        output.error(f"{_n(len(e.diagnostics), 'error')} in the specs; the dataset was not built "
                     "(the previous one, if any, is untouched)")
        return 1
    m = report.manifest
    counts = m["counts"]
    if report.warnings:
        output.warn(f"the specs have {_n(report.warnings, 'warning')} (see mcptrain validate)")
    total = sum(counts["splits"].values()) or 1
    output.table(f"{ws.dataset_dir} (content {m['content_hash'][:12]})", ["split", "rows", "share"], [
        (split, counts["splits"][split], f"{100 * counts['splits'][split] / total:.0f}%") for split in SPLITS
    ])
    project, _ = ws.load_project()
    empty = [split for split in ("validation", "test", "holdout")
             if getattr(project.splits, split) > 0 and not counts["splits"].get(split)]
    if empty:
        output.warn(f"{_names(empty)} {'is' if len(empty) == 1 else 'are'} empty: each tool's examples are dealt "
                    "to the splits whole (a template and its expansions are one example), so tools with few "
                    "examples leave the small splits empty; write more examples per tool (README, The dataset)")
    output.table("BFCL categories", ["category", "rows", "in train"], [
        (c, sum(counts["categories"].get(c, {}).values()), counts["categories"].get(c, {}).get("train", 0))
        for c in CATEGORIES
    ])
    output.table("data quality", ["figure", "value"], quality_table(m["quality"]))
    behaviours = m["quality"]["behaviours"]
    output.table("behaviours", ["behaviour", "train rows", "share", "validation rows", "scored rows"],
                 [(b, str(n), f"{100 * behaviours['share'][b]:.0f}%", str(behaviours["validation"][b]),
                   str(behaviours["scored"][b])) for b, n in behaviours["train"].items()])
    output.info(f"services: {_listed(report.compiled)} compiled, {_listed(report.reused)} reused from the build cache")
    zero_shot = sorted(t for names in m["zero_shot_tools"].values() for t in names)
    if zero_shot:
        output.info(f"zero-shot tools (never trained on, not offered in {m.get('zero_shot_withheld_rows', 0)} "
                    f"train/validation rows): {_names(zero_shot)}")
    if report.removals:
        output.warn(f"removed {_n(len(report.removals), 'train row')} whose query leaks into a scored split "
                    "(listed under 'contamination' in manifest.json)")
    untrained = m["quality"]["tools_without_train_rows"]
    if untrained:
        output.warn(f"{_n(len(untrained), 'tool')} with examples but none in train: {_names(untrained)} "
                    "(add examples, or change splits.seed)")
    if behaviours["thin"]:
        output.warn(f"scored behaviours with too few training rows: {_names(behaviours['thin'])} "
                    f"(fewer than {THIN_ROWS} or {THIN_SHARE:.0%} of train); the model will not learn "
                    "them: add examples or edge cases, or repeat them with training.behaviour_floor")
    _check_floor(project.training.behaviour_floor, behaviours["train"])
    if behaviours.get("thin_categories"):
        found = ", ".join(f"{c} ({n})" for c, n in behaviours["thin_categories"].items())
        output.warn(f"scored BFCL categories with too few training rows: {found} (fewer than {THIN_ROWS} "
                    f"or {THIN_SHARE:.0%} of train); add examples of that shape")
    if behaviours["unseen"]:
        found = ", ".join(f"{b} ({behaviours['validation'][b]})" for b in behaviours["unseen"])
        output.warn(f"scored behaviours with fewer than {UNSEEN_BELOW} validation rows: {found}; what is "
                    "chosen on validation (the call-or-answer threshold, a recipe) cannot see them: add "
                    "examples or edge cases of that kind")
    volume_warnings(m["quality"]["volume"])
    if report.checks.warnings:
        found = ", ".join(f"{k}: {v}" for k, v in sorted(report.checks.warnings.items()))
        output.warn(f"OpenAI format check warnings ({found}); token counts are estimates")
    from mcptrain.commands.lengths import measure, print_report

    print_report(measure(project, report.rows))
    elapsed = time.perf_counter() - started
    rows = sum(counts["splits"].values())
    done = f"mcptrain: built {ws.dataset_dir} ({_n(rows, 'row')}) in {elapsed:.2f}s"
    if no_dvc or not project.dvc.enabled:
        if push:
            output.error("--push needs DVC, and dvc.enabled is false in mcptrain.yaml")
            return 1
        output.info(f"{done}; DVC skipped; next: mcptrain train")
        return 0
    from mcptrain.dataset.store import track_dataset

    tracked = track_dataset(root, project.dvc, push=push)
    where = f"pushed to remote '{tracked.remote}'" if tracked.pushed else "not pushed (mcptrain build --push)"
    output.info(f"{done}; datasets.dvc md5 {tracked.md5}, {where}; "
                "next: commit datasets.dvc, then mcptrain train")
    return 0


def volume_warnings(v: dict[str, Any]) -> None:
    """The chapter's data-volume figures: too few rows, too few examples per tool, imbalance."""
    from mcptrain.dataset.manifest import IMBALANCED_BELOW, PRODUCTION_PER_TOOL, START_PER_TOOL

    if v["train_rows"] < v["min_train_rows"]:
        output.warn(f"train holds {_n(v['train_rows'], 'row')}; the design chapter names {v['min_train_rows']:,} "
                    "as the minimum for LoRA (10,000 recommended): expect memorising, not generalising")
    if v["tools_under_start"]:
        output.warn(f"{_n(len(v['tools_under_start']), 'tool')} with fewer than {START_PER_TOOL} examples: "
                    f"{_names(v['tools_under_start'])} (the chapter: start with 10-20 hand-curated examples "
                    f"per tool, {PRODUCTION_PER_TOOL}-200 in production)")
    if v["imbalanced_tools"]:
        output.warn(f"imbalanced tools, under {IMBALANCED_BELOW:.0%} of the mean "
                    f"{v['mean_train_rows_per_tool']:g} train rows per tool: "
                    f"{_names([f'{t} ({n})' for t, n in v['imbalanced_tools'].items()])}")


def _listed(names: list[str]) -> str:
    return f"{len(names)} ({_names(names)})" if names else "0"


def _names(names: list[str]) -> str:
    return ", ".join(names) if len(names) <= 5 else f"{', '.join(names[:3])}, ... {names[-1]}"


def _check_floor(floor: float, train: dict[str, int]) -> None:
    """A `training.behaviour_floor` this training split cannot hold: `train` would refuse it,
    so say so here, where the split is first known."""
    from mcptrain.training.balance import floor_counts

    try:
        floor_counts(train, floor)
    except ValueError as e:
        output.warn(f"mcptrain.yaml: training.behaviour_floor: {e}; `mcptrain train` will refuse it")


def _n(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"
