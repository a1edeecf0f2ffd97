"""Evaluation speed, side by side in one run on the same items: how decoding ran before
this change, and now, unconstrained and under the tool-call grammar.

All three are `LocalPredictor` (batched greedy decoding with the shared tool-block
cache) over the first `--items` scored items of the demo's holdout split:

* before: bf16 autocast over fp32 weights (every decode step re-cast every weight to
  bf16), no repetition cap: what `mcptrain eval` ran until this change;
* unconstrained: frozen weights stored in bf16 once, rows cut off once they repeat;
* constrained: the same, each row decoding under its tools' grammar (xgrammar).

Reported: seconds, items/s, the ratio to "before", and how many outputs agree with
"before" (the stored weights are the same numbers autocast used, so unconstrained
outputs differ only where a loop was cut off).

    .venv/bin/python benchmarks/eval_bench.py [--items 32] [--batch-size 16]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT]  # see train_bench.py

from mcptrain.evaluation.report import eval_items  # noqa: E402
from mcptrain.training.model import EMBEDDED  # noqa: E402
from mcptrain.training.predictor import LocalPredictor  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=32)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--max-new-tokens", type=int, default=160)
    ap.add_argument("--model", default=EMBEDDED)
    ap.add_argument("--adapter", type=Path, default=None, help="a trained adapter (default: the base model)")
    ap.add_argument("--rows", type=Path, default=ROOT / "datasets" / "holdout.jsonl")
    args = ap.parse_args()
    import torch

    rows = [json.loads(line) for line in args.rows.read_text(encoding="utf-8").splitlines()]
    items = eval_items(rows)[: args.items]
    prompts = [{**item.row, "messages": item.prompt} for item in items]

    def make(constrained: bool, before: bool = False) -> LocalPredictor:
        p = LocalPredictor(args.model, args.adapter, batch_size=args.batch_size,
                           max_new_tokens=args.max_new_tokens, constrained=constrained)
        if before:
            p.model.float()  # weights back to fp32: autocast casts them on every step again
            p.stop_loops = False
        p.predict(prompts[:2])  # warm-up: kernel selection, allocator, grammar compile
        return p

    results = {}
    for name, predictor in (("before", make(False, before=True)), ("unconstrained", make(False)),
                            ("constrained", make(True))):
        started = time.perf_counter()
        outputs = predictor.predict(prompts)
        results[name] = (time.perf_counter() - started, outputs, predictor.precision.used)
        del predictor
    n = len(prompts)
    before_s, before_out, _ = results["before"]
    print(f"{n} items of {args.rows.name}, max_new_tokens {args.max_new_tokens}, batch {args.batch_size}, "
          f"{torch.get_num_threads()} threads, {'adapter ' + str(args.adapter) if args.adapter else 'base model'}")
    print(f"{'':16}{'precision':>10}{'seconds':>10}{'items/s':>10}{'vs before':>11}{'same output':>13}")
    for name, (secs, outputs, precision) in results.items():
        same = sum(a == b for a, b in zip(outputs, before_out, strict=True))
        print(f"{name:16}{precision:>10}{secs:>10.1f}{n / secs:>10.2f}{before_s / secs:>10.2f}x{same:>9}/{n}")


if __name__ == "__main__":
    main()
