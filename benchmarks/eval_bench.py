"""Batched evaluation against one-prompt-at-a-time generation, on the same items, in one run.

Both generate greedily with the embedded SmolLM2 (or `--model`) over the first `--items`
scored items of the demo dataset's holdout split, with the same prompts, stop token and
`max_new_tokens`:

* sequential: what one writes first — `model.generate` on each prompt alone (its own KV
  cache, nothing shared);
* mcptrain: `LocalPredictor` — prompts grouped by their shared system turn (whose KV cache
  is computed once and expanded over each batch), left-padded after it, batches of
  `--batch-size`, in fp32 (so outputs can be compared exactly) and then in the precision
  `mcptrain eval` picks by default (bf16 where a matmul probe finds it clearly faster).

Reported: items/s of each, their ratio, and whether the outputs are identical (greedy
decoding of the same prompts should agree; batching can flip a near-tie in low precision).

    .venv/bin/python benchmarks/eval_bench.py [--items 32] [--batch-size 16] [--max-new-tokens 64]
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
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--model", default=EMBEDDED)
    ap.add_argument("--rows", type=Path, default=ROOT / "datasets" / "holdout.jsonl")
    args = ap.parse_args()
    import torch

    rows = [json.loads(line) for line in args.rows.read_text(encoding="utf-8").splitlines()]
    items = eval_items(rows)[: args.items]
    prompts = [{**item.row, "messages": item.prompt} for item in items]
    predictor = LocalPredictor(args.model, batch_size=args.batch_size, max_new_tokens=args.max_new_tokens,
                               precision="fp32")
    predictor.predict(prompts[:2])  # warm-up: kernel selection, allocator

    started = time.perf_counter()
    batched = predictor.predict(prompts)
    batched_s = time.perf_counter() - started

    sequential = []
    started = time.perf_counter()
    with torch.no_grad():
        for row in prompts:
            shared, rest = predictor.encode(row)
            ids = torch.tensor([[*shared, *rest]])
            out = predictor.model.generate(
                input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=args.max_new_tokens,
                do_sample=False, eos_token_id=predictor.stop_id, pad_token_id=predictor.pad_id)
            seq = out[0, ids.shape[1]:].tolist()
            if predictor.stop_id in seq:
                seq = seq[: seq.index(predictor.stop_id)]
            sequential.append(predictor.tokenizer.decode(seq, skip_special_tokens=False))
    sequential_s = time.perf_counter() - started

    # What `mcptrain eval` runs by default: the same, in bf16 where the probe finds it faster.
    auto = LocalPredictor(args.model, batch_size=args.batch_size, max_new_tokens=args.max_new_tokens,
                          precision="bf16")
    auto_s = None
    if auto.precision.used != "fp32":
        auto.predict(prompts[:2])
        started = time.perf_counter()
        auto_out = auto.predict(prompts)
        auto_s = time.perf_counter() - started

    same = sum(a == b for a, b in zip(batched, sequential, strict=True))
    n = len(prompts)
    print(f"{n} items of {args.rows.name}, max_new_tokens {args.max_new_tokens}, "
          f"{torch.get_num_threads()} threads")
    print(f"{'':22}{'seconds':>10}{'items/s':>10}")
    print(f"{'sequential fp32':22}{sequential_s:>10.1f}{n / sequential_s:>10.2f}")
    print(f"{'mcptrain fp32':22}{batched_s:>10.1f}{n / batched_s:>10.2f}   (batch {args.batch_size}, shared prefix)")
    print(f"speed-up at equal precision: {sequential_s / batched_s:.2f}x; identical outputs: {same}/{n}")
    if auto_s is None:
        print(f"mcptrain default precision: fp32 ({auto.precision.reason})")
    else:
        agree = sum(a == b for a, b in zip(auto_out, sequential, strict=True))
        print(f"{'mcptrain ' + auto.precision.used:22}{auto_s:>10.1f}{n / auto_s:>10.2f}   ({auto.precision.reason})")
        print(f"speed-up of the default: {sequential_s / auto_s:.2f}x; same output as fp32: {agree}/{n}")


if __name__ == "__main__":
    main()
