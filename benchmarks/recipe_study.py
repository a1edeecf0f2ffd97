"""The recipe study: training variants at a fixed budget, judged on the validation split.

Each variant is the project's `training:` block with some keys overridden. It trains
(inline, same rows, same seed) and is then scored on the *validation* split only, under
constrained decoding: the scored splits (test, holdout, zero-shot, orchestration,
scenarios) are never looked at here, so choosing the winner cannot tune to them.

    .venv/bin/python benchmarks/recipe_study.py                      # every variant
    .venv/bin/python benchmarks/recipe_study.py --only base,dw5      # some of them
    .venv/bin/python benchmarks/recipe_study.py --set max_steps=20   # applied to all

The table it prints is the README's "Training recipe" table.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

ATTENTION = ["q_proj", "k_proj", "v_proj", "o_proj"]
ALL_LINEAR = [*ATTENTION, "gate_proj", "up_proj", "down_proj"]
MASKED_SEED = 20261203  # the made-up names of the masked validation rows (not the training ones)

VARIANTS: dict[str, dict[str, Any]] = {
    "project": {},
    "attention_only": {"lora": {"target_modules": ATTENTION}},
    "steps_x2": {"max_steps_factor": 2.0},
    "steps_x1.33": {"max_steps_factor": 4 / 3},
    "decision_w5": {"decision_weight": 5.0},
    "all_linear": {"lora": {"target_modules": ALL_LINEAR}},
    "r16": {"lora": {"r": 16, "alpha": 32}},
    "lr_1e-3": {"learning_rate": 1e-3},
    "lr_4e-3": {"learning_rate": 4e-3},
    "batch16_half_steps": {"batch_size": 16, "max_steps_factor": 0.5},
    "batch4_double_steps": {"batch_size": 4, "max_steps_factor": 2.0},
    "neftune_5": {"neftune_alpha": 5.0},
    "decision_w5_all_linear": {"decision_weight": 5.0, "lora": {"target_modules": ALL_LINEAR}},
    # Exact gradients through the tool block cost ~1.5x per step: the same minutes buy 2/3 of the steps.
    "exact_prefix_same_time": {"prefix_gradients": True, "max_steps_factor": 2 / 3},
    "mask_names_25": {"mask_tool_names": 0.25},
    "mask_names_50": {"mask_tool_names": 0.5},
}


def merged(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if key == "max_steps_factor":
            out["max_steps"] = max(1, int(out["max_steps"] * value))
        elif isinstance(value, dict):
            out[key] = {**out.get(key, {}), **value}
        else:
            out[key] = value
    return out


def with_training(project: Any, *overrides: dict[str, Any]) -> Any:
    """`project` with its `training:` block merged with each of `overrides` in turn."""
    training = project.training.model_dump(mode="json")
    for over in overrides:
        training = merged(training, over)
    return project.model_copy(update={"training": type(project.training).model_validate(training)})


def parse_sets(items: list[str]) -> dict[str, Any]:
    """`--set key=value` arguments as training overrides (JSON values, else strings)."""
    return {k: parse_value(v) for k, v in (item.split("=", 1) for item in items)}


def parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default="", help="comma-separated variant names")
    parser.add_argument("--set", action="append", default=[], help="training key=value for every variant")
    parser.add_argument("--out", type=Path, default=Path(".mcptrain/study"))
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--greedy", action="store_true",
                        help="also score each adapter without its calibrated decision threshold")
    parser.add_argument("--base-model", default="",
                        help="train and score another base model (e.g. embedded:gemma3-270m)")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch threads (1 lets two studies share a 2-core machine without "
                             "the OpenMP oversubscription that slows both several-fold)")
    args = parser.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)

    from mcptrain.dataset.handle import open_dataset
    from mcptrain.evaluation.report import score_rows, summarize
    from mcptrain.evaluation.runner import predict_items
    from mcptrain.specs.loader import load_specs
    from mcptrain.training.lora import train_lora
    from mcptrain.training.masking import mask_rows
    from mcptrain.training.predictor import local_predictor

    root = Path.cwd()
    specs, diags = load_specs(root)
    project = specs.project_spec
    if args.base_model:
        project = project.model_copy(update={"base_model": args.base_model})
    dataset = open_dataset(root)
    train, val = dataset.rows("train"), dataset.rows("validation")
    common = parse_sets(args.set)
    names = [n for n in args.only.split(",") if n] or list(VARIANTS)
    print(f"{len(train)} training rows, {len(val)} validation rows")

    # The validation rows with every tool under a made-up name: a model that picks tools by
    # the names it memorised, not by their descriptions, fails here (a proxy for the zero-shot
    # split that reads no scored row).
    val_masked, _ = mask_rows(val, 1.0, seed=MASKED_SEED)

    def score(predictor: Any, rows: list[dict[str, Any]] = val) -> tuple[dict[str, Any], float]:
        started = time.perf_counter()
        outputs = predict_items(predictor, rows, "validation")
        summary = summarize(score_rows(rows, outputs))
        return summary, time.perf_counter() - started

    table = []
    if not args.no_baseline:
        summary, secs = score(local_predictor(project, None))
        table.append(("base model", None, None, summary))
        summary, secs = score(local_predictor(project, None), val_masked)
        table.append(("base model (made-up tool names)", None, None, summary))
    for name in names:
        variant = with_training(project, common, VARIANTS[name])
        out = args.out / name
        started = time.perf_counter()
        result = train_lora(variant, train, val, out, f"study-{name}-{int(time.time())}", runner="inline")
        wall = time.perf_counter() - started
        # The same adapter on the validation split, on it with made-up tool names, and (with
        # --greedy) without its calibrated call-or-answer threshold.
        runs = [(name, True, val), (f"{name} (made-up tool names)", True, val_masked)]
        if args.greedy and (result.summary.get("decision") or {}).get("threshold"):
            runs.append((f"{name} (greedy decision)", False, val))
        for label, calibrated, rows in runs:
            predictor = local_predictor(project, out)  # the project's decoder: grammar, grounding, retrieval
            if not calibrated:
                predictor.decision = None
            summary, secs = score(predictor, rows)
            table.append((label, wall, result.summary.get("val_loss_final"), summary))
            print(json.dumps({"variant": label, "wall_s": round(wall),
                              "train_s": result.summary.get("train_seconds"),
                              "val_loss": result.summary.get("val_loss_final"),
                              "decision": result.summary.get("decision"),
                              "accuracy": summary["overall"]["accuracy"],
                              "by": {k: v["accuracy"] for k, v in summary["by"]["category"].items()},
                              "outcomes": summary["outcomes"]}), flush=True)
    categories = sorted({c for *_, s in table for c in s["by"]["category"]})
    print("\n| variant | train s | val loss | val acc | " + " | ".join(categories) + " |")
    print("|---|---|---|---|" + "---|" * len(categories))
    for name, wall, loss, s in table:
        cells = [f"{s['by']['category'][c]['accuracy']:.0%}" if c in s["by"]["category"] else "-"
                 for c in categories]
        print(f"| {name} | {'-' if wall is None else f'{wall:.0f}'} | "
              f"{'-' if loss is None else f'{loss:.3f}'} | {s['overall']['accuracy']:.1%} "
              f"({s['overall']['correct']}/{s['overall']['n']}) | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
