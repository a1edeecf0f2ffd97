"""The learning curve: validation accuracy against training minutes, for one recipe.

Trains the project's `training:` block (with `--set` overrides) once for `--steps` steps,
keeping a checkpoint every `--every` steps, then scores every checkpoint on the
*validation* split only, as the evaluation stage would score the finished adapter:
the call-or-answer decision calibrated for that checkpoint (threshold and head), and the
project's decoder settings (`mcptrain eval`'s: grammar, grounding, retrieval). The
scored splits are never read, so where to stop can be chosen from this table.

Each row is one checkpoint: its step, the training seconds it took to get there, the
validation loss the loop measured at that step, and the generated accuracy. The last two
lines say which checkpoint early stopping would keep on each of the two signals.

    .venv/bin/python benchmarks/learning_curve.py --steps 320 --every 40
    .venv/bin/python benchmarks/learning_curve.py --steps 40 --every 20 --set learning_rate=0.001

The learning rate decays linearly to zero at `--steps`, so the checkpoint at step 120 of a
320-step run is not the adapter a 120-step run ends with (it is still at a higher rate).

`--report-scored` also scores every checkpoint (and the base model, once) on the gated
splits `mcptrain eval` scores, as a second table (each one's malformed outputs counted):
where on the curve the issue's targets would be met. It is a report, printed after the
choice above is made; choose from the validation table only.

    .venv/bin/python benchmarks/learning_curve.py --steps 360 --every 120 --report-scored

`--run NAME` re-scores an earlier run's checkpoints (same settings; the run's name is
printed when it starts): the finished run is found by its inputs and not trained again.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from recipe_study import parse_sets, with_training  # noqa: E402

from mcptrain.evaluation.uncertainty import describe, paired_gain  # noqa: E402


def val_losses(history: list[dict[str, Any]]) -> dict[int, float]:
    return {h["step"]: h["val_loss"] for h in history if "val_loss" in h}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=320)
    parser.add_argument("--every", type=int, default=40, help="checkpoint (and validation loss) interval")
    parser.add_argument("--set", action="append", default=[], help="training key=value (JSON values)")
    parser.add_argument("--out", type=Path, default=Path(".mcptrain/curve"))
    parser.add_argument("--base-model", default="")
    parser.add_argument("--run", default="", help="re-score the checkpoints of an earlier run of the same "
                        "settings (its name, printed when it started) instead of training anew")
    parser.add_argument("--report-scored", action="store_true",
                        help="also score each checkpoint and the base model on the gated splits (a report)")
    args = parser.parse_args()

    from mcptrain.dataset.handle import open_dataset, select_rows
    from mcptrain.dataset.splits import GATED_SPLITS
    from mcptrain.evaluation.report import score_rows, summarize
    from mcptrain.evaluation.runner import predict_items
    from mcptrain.specs.loader import load_specs
    from mcptrain.training import checkpoint as ckpt
    from mcptrain.training.lora import ADAPTER_FILES, calibrate_decision, export_adapter, train_lora
    from mcptrain.training.model import load_tokenizer, resolve_base_model
    from mcptrain.training.predictor import local_predictor
    from mcptrain.training.prompt import choose_template

    root = Path.cwd()
    specs, _ = load_specs(root)
    project = specs.project_spec
    if args.base_model:
        project = project.model_copy(update={"base_model": args.base_model})
    project = with_training(project, {
        **parse_sets(args.set), "max_steps": args.steps, "checkpoint_every": args.every, "eval_every": args.every,
        "early_stopping_patience": 0})
    dataset = open_dataset(root)
    train, val = dataset.rows("train"), dataset.rows("validation")
    run_name = args.run or f"curve-{int(time.time())}"
    out = args.out.resolve()
    print(f"{len(train)} training rows, {len(val)} validation rows; {args.steps} steps, "
          f"a checkpoint every {args.every}; run {run_name}", flush=True)
    result = train_lora(project, train, val, out / "final", run_name, runner="inline",
                        keep_checkpoints=args.steps // args.every + 1)
    losses = val_losses(result.summary["history"])
    base_path = resolve_base_model(project.base_model)
    tokenizer = load_tokenizer(str(base_path))
    template = choose_template(tokenizer)
    run_dir = out / "final" / "runs" / run_name

    scored_rows = select_rows(dataset, GATED_SPLITS) if args.report_scored else []

    def accuracy_by(predictor: Any, rows: list[dict[str, Any]], what: str) -> dict[str, Any]:
        results = score_rows(rows, predict_items(predictor, rows, what))
        summary = summarize(results)
        return {"results": results, "accuracy": summary["overall"]["accuracy"], "correct": summary["overall"]["correct"],
                "n": summary["overall"]["n"], "malformed": summary["outcomes"].get("malformed", 0),
                "by": {k: f"{v['correct']}/{v['n']}" for k, v in summary["by"]["category"].items()},
                "pct": {k: v["accuracy"] for k, v in summary["by"]["category"].items()}}

    def predictor_for(adapter: Path | None) -> Any:  # the project's decoder, as `mcptrain eval` runs it
        return local_predictor(project.model_copy(update={"base_model": str(base_path)}), adapter)

    table, scored = [], []
    val_results: dict[int, list[Any]] = {}
    for step, folder in ckpt.find_checkpoints(run_dir):
        state = ckpt.read_state(folder) or {}
        with tempfile.TemporaryDirectory() as tmp:
            raw = Path(tmp) / "raw"  # this step's own weights, not the best-so-far copy
            raw.mkdir()
            for name in ADAPTER_FILES:
                shutil.copyfile(folder / name, raw / name)
            adapter = Path(tmp) / "adapter"
            export_adapter(raw, adapter, tokenizer, template, project.base_model)
            decision = calibrate_decision(project, base_path, adapter, val, lambda e: None, train) or {}
            started = time.perf_counter()
            predictor = predictor_for(adapter)
            results = score_rows(val, predict_items(predictor, val, "validation"))
            val_results[step] = results
            summary = summarize(results)
            if scored_rows:
                scored.append({"step": step, "train_s": round(state.get("train_seconds", 0.0)),
                               **accuracy_by(predictor, scored_rows, "scored splits")})
                print(json.dumps({"step": step, "scored": scored[-1]["by"]}), flush=True)
        row = {"step": step, "train_s": round(state.get("train_seconds", 0.0)),
               "val_loss": losses.get(step), "threshold": decision.get("threshold"),
               "accuracy": summary["overall"]["accuracy"], "correct": summary["overall"]["correct"],
               "n": summary["overall"]["n"], "score_s": round(time.perf_counter() - started),
               "by": {k: f"{v['correct']}/{v['n']}" for k, v in summary["by"]["category"].items()}}
        table.append(row)
        print(json.dumps(row), flush=True)

    if not table:
        raise SystemExit(f"learning_curve: no checkpoints in {run_dir}")
    categories = sorted({c for r in table for c in r["by"]})
    print("\n| step | train min | val loss | val accuracy | " + " | ".join(categories) + " |")
    print("|---|---|---|---|" + "---|" * len(categories))
    for r in table:
        loss = "-" if r["val_loss"] is None else f"{r['val_loss']:.3f}"
        print(f"| {r['step']} | {r['train_s'] / 60:.1f} | {loss} | {r['accuracy']:.1%} "
              f"({r['correct']}/{r['n']}) | " + " | ".join(r["by"].get(c, "-") for c in categories) + " |")
    with_loss = [r for r in table if r["val_loss"] is not None]
    if with_loss:
        by_loss = min(with_loss, key=lambda r: r["val_loss"])
        print(f"\nearly stopping on validation loss keeps step {by_loss['step']} "
              f"({by_loss['accuracy']:.1%} validation accuracy)")
    by_accuracy = max(table, key=lambda r: (r["accuracy"], -r["step"]))
    print(f"early stopping on validation accuracy keeps step {by_accuracy['step']} "
          f"({by_accuracy['accuracy']:.1%})")
    # Can the validation split tell the checkpoints apart? Each against the accuracy choice,
    # with the paired bootstrap interval over source rows (mcptrain/evaluation/uncertainty.py).
    for r in table:
        if r["step"] != by_accuracy["step"]:
            gain = paired_gain(val_results[by_accuracy["step"]], val_results[r["step"]])
            if gain is not None:
                print(f"  step {by_accuracy['step']} vs step {r['step']} on validation: {describe(gain)}")
    if scored:
        print_scored(scored, accuracy_by(predictor_for(None), scored_rows, "base model"))


def print_scored(scored: list[dict[str, Any]], base: dict[str, Any]) -> None:
    """The gated splits per checkpoint: accuracy and points over the base model."""
    categories = sorted({c for r in [base, *scored] for c in r["by"]})
    print("\nscored splits (a report: the choice above never reads them)")
    print("| adapter | train min | overall | vs base | malformed | " + " | ".join(categories) + " |")
    print("|---|---|---|---|---|" + "---|" * len(categories))
    print(f"| base model | - | {base['accuracy']:.1%} ({base['correct']}/{base['n']}) | - | {base['malformed']} | "
          + " | ".join(base["by"].get(c, "-") for c in categories) + " |")
    for r in scored:
        gain = paired_gain(r["results"], base["results"])
        versus = describe(gain) if gain else f"{100 * (r['accuracy'] - base['accuracy']):+.1f} pp"
        print(f"| step {r['step']} | {r['train_s'] / 60:.1f} | {r['accuracy']:.1%} ({r['correct']}/{r['n']}) | "
              f"{versus} | {r['malformed']} | "
              + " | ".join(r["by"].get(c, "-") for c in categories) + " |")


if __name__ == "__main__":
    main()
