"""Evaluation speed, side by side in one run on the same items: how decoding ran in the
previous release, and now, unconstrained and under the tool-call grammar.

All are `LocalPredictor` (batched greedy decoding, weights stored in bf16) over the first
`--items` scored items of the demo's holdout split:

* expanded, batch 16 (the previous release): the shared tool block's cache is expanded
  over the batch, so every decode step concatenates, and grouped-query attention repeats,
  one copy of the ~650-token block per row;
* shared, batch 64 (now): every row attends to the one tool-block cache
  (`prefix_attention`), so a row costs only its own tokens and a larger batch pays;
* shared, batch 64, output head stored (now): the output projection, tied to the input
  embeddings, has its own bf16 copy (`Precision.store_output_head`); before, autocast cast
  the whole [vocabulary x hidden] matrix to bf16 at every decode step;
* shared, batch 64, head stored, explicit softmax (before): the rows' attention without
  gradients as one fp32 softmax over [tool block | own keys]; now (the line above) it is
  torch's CPU flash kernel, over the block and the rows' own keys apart, merged by their
  log-sum-exp (`objective._split_padded_attention`);
* each unconstrained and under the tool-call grammar (xgrammar).

Reported: seconds, items/s, the ratio to the expanded cache with the same decoding, and
how many outputs agree with it.

    .venv/bin/python benchmarks/eval_bench.py [--items 64] [--batch-size 64]
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
from mcptrain.training import objective  # noqa: E402
from mcptrain.training.model import EMBEDDED  # noqa: E402
from mcptrain.training.predictor import LocalPredictor  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=32)
    ap.add_argument("--batch-size", type=int, default=64, help="the batch now (before: 16)")
    ap.add_argument("--max-new-tokens", type=int, default=160)
    ap.add_argument("--model", default=EMBEDDED)
    ap.add_argument("--adapter", type=Path, default=None, help="a trained adapter (default: the base model)")
    ap.add_argument("--rows", type=Path, default=ROOT / "datasets" / "holdout.jsonl")
    args = ap.parse_args()
    import torch

    rows = [json.loads(line) for line in args.rows.read_text(encoding="utf-8").splitlines()]
    items = eval_items(rows)[: args.items]
    prompts = [{**item.row, "messages": item.prompt} for item in items]

    def make(constrained: bool, shared: bool, head: bool) -> LocalPredictor:
        p = LocalPredictor(args.model, args.adapter, batch_size=args.batch_size if shared else 16,
                           max_new_tokens=args.max_new_tokens, constrained=constrained)
        p.prefix_attention = p.prefix_attention and shared
        if not head:  # tie the output projection back to the fp32 embedding, as before
            p.model.get_output_embeddings().weight = p.model.get_input_embeddings().weight
        p.predict(prompts[:2])  # warm-up: kernel selection, allocator, grammar compile
        return p

    results = {}
    for constrained in (False, True):
        for shared, head, split in ((False, False, True), (True, False, True), (True, True, False), (True, True, True)):
            objective.SPLIT_ATTENTION = split
            predictor = make(constrained, shared, head)
            started = time.perf_counter()
            outputs = predictor.predict(prompts)
            name = (f"{f'shared, batch {args.batch_size}' if shared else 'expanded, batch 16'}"
                    f"{', head stored' if head else ''}{'' if split else ', explicit softmax'}, "
                    f"{'constrained' if constrained else 'free'}")
            results[name] = (time.perf_counter() - started, outputs, predictor.precision.used, constrained)
            del predictor
    n = len(prompts)
    print(f"{n} items of {args.rows.name}, max_new_tokens {args.max_new_tokens}, batch {args.batch_size}, "
          f"{torch.get_num_threads()} threads, {'adapter ' + str(args.adapter) if args.adapter else 'base model'}")
    print(f"{'':62}{'precision':>10}{'seconds':>10}{'items/s':>10}{'vs expanded':>13}{'same output':>13}")
    for name, (secs, outputs, precision, constrained) in results.items():
        ref_s, ref_out, *_ = next(r for k, r in results.items() if k.startswith("expanded") and r[3] == constrained)
        same = sum(a == b for a, b in zip(outputs, ref_out, strict=True))
        print(f"{name:62}{precision:>10}{secs:>10.1f}{n / secs:>10.2f}{ref_s / secs:>12.2f}x{same:>9}/{n}")


if __name__ == "__main__":
    main()
