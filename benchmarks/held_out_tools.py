"""A zero-shot stand-in made of validation data only: tools held out of training.

The scored zero-shot split asks for tools the adapter was offered but never trained to
call; the recipe study's other stand-in (every validation tool renamed) removes the pull
of the trained names instead of facing it. Here one tool per service (chosen by a seeded
hash among the tools the training rows call) is held out: the training rows that call it
are removed from training and become the stand-in, scored with their real names next to
tools the adapter did learn; the rest of the validation split is scored too. The rows
trained on do not offer the held-out tools, as the build withholds zero-shot tools
(`--offer-held-out`: they do, never called, as builds did before). The scored
splits are never read. Decoder settings are then compared on the one adapter:

    .venv/bin/python benchmarks/held_out_tools.py --settings 0:0,1:0,2:0,4:0
    .venv/bin/python benchmarks/held_out_tools.py --set mask_tool_names=0.25 --out .mcptrain/held-out-masked
    .venv/bin/python benchmarks/held_out_tools.py --adapter .mcptrain/held-out --settings 1:0,8:0
    .venv/bin/python benchmarks/held_out_tools.py --adapter .mcptrain/held-out --recalibrate --settings 4:0
    .venv/bin/python benchmarks/held_out_tools.py --adapter .mcptrain/held-out-masked --settings 4:0 --invented-values off,on

With a decision head (`training.decision_head`), each setting is scored twice: with the
call token's threshold alone and with the head.

A setting is `tool_retrieval:name_calibration`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from recipe_study import parse_sets, with_training  # noqa: E402


def called(row: dict[str, Any]) -> set[str]:
    return {c["function"]["name"] for m in row["messages"] if m.get("role") == "assistant"
            for c in m.get("tool_calls") or []}


def held_out(train: list[dict[str, Any]], seed: int) -> dict[str, str]:
    """service -> the tool held out of its training rows (a seeded hash among those called)."""
    by_service: dict[str, Counter[str]] = {}
    for row in train:
        by_service.setdefault(str(row.get("service")), Counter()).update(called(row))
    return {service: min(counts, key=lambda n: hashlib.sha256(f"{seed}:{n}".encode()).hexdigest())
            for service, counts in sorted(by_service.items()) if counts}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--settings", default="0:0,1:0", help="tool_retrieval:name_calibration, comma-separated")
    parser.add_argument("--seed", type=int, default=20261203)
    parser.add_argument("--another-call", default="on",
                        help="the adapter's another-call decision (decision.More) to compare: on, off or on,off")
    parser.add_argument("--invented-values", default="on",
                        help="evaluation.invented_values to compare, comma-separated: on, off or on,off")
    parser.add_argument("--out", type=Path, default=Path(".mcptrain/held-out"))
    parser.add_argument("--adapter", type=Path, help="score this adapter (trained by this script) instead")
    parser.add_argument("--set", action="append", default=[], help="training key=value (JSON values)")
    parser.add_argument("--offer-held-out", action="store_true",
                        help="keep offering the held-out tools in the rows trained on (never called), as "
                             "builds before `withhold_tools` did; by default they are withheld, as the "
                             "build withholds zero-shot tools")
    parser.add_argument("--head-on-masked", action="store_true",
                        help="with --recalibrate: fit the decision head on the training rows as trained, "
                             "a `mask_tool_names` share of them under made-up names")
    parser.add_argument("--calibrate-renamed", action="store_true",
                        help="with --recalibrate: choose the threshold (and head or trigger) on the validation "
                             "turns with real names and again with every tool renamed")
    parser.add_argument("--recalibrate", action="store_true",
                        help="with --adapter: fit its call-or-answer decision again (threshold and head) "
                             "on the rows it trained on and its validation rows")
    args = parser.parse_args()

    from mcptrain.dataset.handle import open_dataset
    from mcptrain.dataset.splits import withhold_tools
    from mcptrain.evaluation.report import score_rows, summarize
    from mcptrain.evaluation.runner import predict_items
    from mcptrain.specs.loader import load_specs
    from mcptrain.training.decision import DECISION_FILE, Decision, calibrate
    from mcptrain.training.lora import train_lora
    from mcptrain.training.predictor import LocalPredictor

    root = Path.cwd()
    specs, _ = load_specs(root)
    project = specs.project_spec
    project = with_training(project, parse_sets(args.set))
    dataset = open_dataset(root)
    train, val = dataset.rows("train"), dataset.rows("validation")
    held = held_out(train, args.seed)
    tools = set(held.values())
    kept = [r for r in train if not called(r) & tools]
    standin = [r for r in train if called(r) & tools]
    val_kept = [r for r in val if not called(r) & tools]
    if not args.offer_held_out:
        withhold_tools(kept + val_kept, set(held.items()), splits=None)
    print(f"held out: {held}; training on {len(kept)} of {len(train)} rows; stand-in {len(standin)} rows; "
          f"validation {len(val_kept)} of {len(val)} rows", flush=True)
    adapter = args.adapter
    if adapter is None:
        adapter = args.out
        started = time.perf_counter()
        result = train_lora(project, kept, val_kept, adapter, f"held-out-{int(time.time())}", runner="inline")
        print(f"trained in {time.perf_counter() - started:.0f}s, validation loss "
              f"{result.summary.get('val_loss_final')}", flush=True)
    elif args.recalibrate:
        calibrator = LocalPredictor(project.base_model, adapter, batch_size=project.evaluation.batch_size,
                                    precision=project.training.precision, constrained=False, calibrated=False)
        from mcptrain.training.masking import mask_rows

        head_rows = kept
        if args.head_on_masked and project.training.mask_tool_names:
            head_rows, _ = mask_rows(kept, project.training.mask_tool_names, project.training.seed)
        decide_on = val_kept
        if args.calibrate_renamed:
            renamed, _ = mask_rows(val_kept, 1.0, project.training.seed)
            decide_on = [*val_kept, *({**r, "id": f"{r['id']}~renamed"} for r in renamed)]
        evidence = calibrate(calibrator, decide_on, adapter, head_rows, project.training.decision_head_inputs,
                             call_head=project.training.decision_head,
                             more_head=project.training.another_call_head)
        print(f"decision: {evidence}", flush=True)
        del calibrator
    predictor = LocalPredictor(project.base_model, adapter, batch_size=project.evaluation.batch_size,
                               max_new_tokens=project.evaluation.max_new_tokens)
    # The trigger's threshold alone, and the head when calibration kept one: side by side.
    decisions = [("trigger", predictor.decision)]
    if predictor.decision is not None and predictor.decision.head is not None:
        recorded = json.loads((adapter / DECISION_FILE).read_text(encoding="utf-8"))["validation"]
        decisions = [("trigger", Decision(predictor.decision.trigger, recorded["trigger_threshold"],
                                          more=predictor.decision.more)),
                     ("head", predictor.decision)]
    print("\n| decision | tool_retrieval | name_calibration | held-out tools | wrong function | validation "
          "| wrong function |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for label, decision, invented, another in [(*d, flag, more) for d in decisions
                                               for flag in args.invented_values.split(",")
                                               for more in args.another_call.split(",")]:
        predictor.decision = decision if another == "on" or decision is None else replace(decision, more=None)
        predictor.invented_values = invented == "on"
        label = label if args.invented_values == "on" else f"{label}, invented values {invented}"
        label = label if args.another_call == "on" else f"{label}, another call {another}"
        for setting in args.settings.split(","):
            beta, alpha = (float(x) for x in setting.split(":"))
            predictor.tool_retrieval, predictor.name_calibration = beta, alpha
            cells = []
            for rows, split in ((standin, "train"), (val_kept, "validation")):
                summary = summarize(score_rows(rows, predict_items(predictor, rows, split)))
                overall = summary["overall"]
                cells += [f"{overall['correct']}/{overall['n']}", str(summary["outcomes"].get("wrong_function", 0))]
            print(f"| {label} | {beta:g} | {alpha:g} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
