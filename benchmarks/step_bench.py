"""The levers inside one training step, switched on and off side by side in one run.

Same model (the embedded SmolLM2-135M), the default LoRA (r=16 on all linear layers),
batches sampled evenly over one epoch of the demo's training plan plus its widest two (the
widths vary from ~35 to ~350 tokens after the tool block; 4 of its 77 batches are over
`MATERIALISED_SCORES`, and those cost most), bf16 autocast,
forward + backward of `batch_loss` (no optimizer step, so every variant sees the same
weights):

* attention over the shared prefix: stock attention over the prefix's key/value cache
  expanded to the batch; mcptrain's `shared_prefix_attention` with its explicit softmax
  for every batch; or (the default) that softmax for small batches and torch's fused
  kernel above `MATERIALISED_SCORES` scores per layer;
* frozen linear weights: fp32 (autocast casts them on every call) or stored in bf16 once;
* the loss: the stock output layer + cross-entropy over whole [scored x vocabulary] logits,
  or `linear_cross_entropy` (chunked, fused with its gradient);
* below `MATERIALISED_SCORES`, the explicit softmax or (the default) `_split_prefix_attention_function`:
  flash-attention forward over the prefix and the rows apart, merged by log-sum-exp, and a
  hand-written backward;
* the blocks' inputs cast to bf16 once per block (`Precision.cast_block_inputs`, the
  default) or by every linear layer for itself.

Variants run interleaved for `--repeats` rounds (this VM's speed drifts within minutes)
and the fastest round of each is reported, with the summed loss of the batches, which
must agree across variants to bf16 rounding (the attention changes the order of a sum).

    .venv/bin/python benchmarks/step_bench.py [--batches 8] [--widest 2] [--repeats 2] [--exact] [--thread]
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT]  # see train_bench.py

from mcptrain.training import model as base_model  # noqa: E402
from mcptrain.training import objective  # noqa: E402
from mcptrain.training.batches import plan_epoch  # noqa: E402
from mcptrain.training.precision import Precision  # noqa: E402
from mcptrain.training.prompt import choose_template, encode_row  # noqa: E402

EMBEDDED = "embedded:smollm2-135m-instruct"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batches", type=int, default=8, help="sampled evenly over the epoch's plan")
    ap.add_argument("--widest", type=int, default=2,
                    help="of those, how many are the epoch's widest (most attention scores)")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--all", action="store_true", help="every combination measured before, not only the steps")
    ap.add_argument("--thread", action="store_true",
                    help="run each variant's batches in a new thread, as Ray Train runs the training loop")
    ap.add_argument("--exact", action="store_true",
                    help="backward through the shared prefix too (prefix_gradients: true)")
    ap.add_argument("--train", type=Path, default=ROOT / "datasets" / "train.jsonl")
    args = ap.parse_args()
    import torch
    from peft import LoraConfig, get_peft_model

    rows = [json.loads(line) for line in args.train.read_text(encoding="utf-8").splitlines()]
    tokenizer = base_model.load_tokenizer(EMBEDDED)
    template = choose_template(tokenizer)
    plan = plan_epoch([encode_row(tokenizer, template, r) for r in rows], args.batch_size, 1234, 0)
    widest = sorted(plan, key=lambda b: b.size * b.width * (len(b.prefix) + b.width))[-args.widest:] \
        if args.widest else []
    rest = [b for b in plan if b not in widest]
    even = args.batches - len(widest)
    plan = [rest[round(i * (len(rest) - 1) / max(1, even - 1))] for i in range(even)] + widest
    bf16 = Precision("bf16", "bf16", "benchmark")

    def build(store: bool, casts: bool = False) -> Any:
        torch.manual_seed(0)
        model = get_peft_model(base_model.load_model(EMBEDDED), LoraConfig(
            r=16, lora_alpha=32, lora_dropout=0.0, target_modules=[
                "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
            task_type="CAUSAL_LM"))
        if store:
            bf16.store_frozen_weights(model)
        if casts:
            bf16.cast_block_inputs(model)
        model.train()
        return model

    models = {(False, False): build(False), (True, False): build(True), (True, True): build(True, True)}
    fits, limit, split = objective._own_attention_fits, objective.MATERIALISED_SCORES, objective.SPLIT_ATTENTION
    # (attention, frozen weights in bf16, fused loss, block inputs cast once); the last is the default.
    # Attention: "stock" over the expanded cache; "explicit": mcptrain's explicit softmax for
    # every batch; "explicit+fused": that softmax below MATERIALISED_SCORES and torch's fused
    # kernel above (the previous default); "mcptrain": the split flash attention below it.
    variants = [("stock", False, False, False), ("explicit", True, False, False),
                ("explicit+fused", True, True, False), ("explicit+fused", True, True, True),
                ("mcptrain", True, True, False), ("mcptrain", True, True, True)]
    if args.all:  # the frozen-weight lever on its own too
        variants[1:1] = [("stock", True, False, False), ("explicit", False, False, False),
                         ("explicit", True, True, False)]
    seconds: dict[tuple[str, bool, bool, bool], list[float]] = {v: [] for v in variants}
    losses: dict[tuple[str, bool, bool, bool], float] = {}
    def run(model: Any, fused: bool, out: list[float]) -> None:
        total = 0.0
        for b in plan:
            with bf16.autocast():
                loss, n = objective.batch_loss(model, b, args.exact, fused=fused)
            (loss / n).backward()
            model.zero_grad(set_to_none=True)
            total += float(loss.detach())
        out.append(total)

    try:
        for _ in range(args.repeats):
            for variant in variants:
                attention, store, fused, casts = variant
                objective._own_attention_fits = fits if attention != "stock" else (lambda config: False)  # type: ignore[assignment]
                objective.MATERIALISED_SCORES = limit if attention in ("mcptrain", "explicit+fused") else 1 << 62
                objective.SPLIT_ATTENTION = attention == "mcptrain"
                summed: list[float] = []
                started = time.perf_counter()
                if args.thread:  # as Ray Train runs the loop
                    worker = threading.Thread(target=run, args=(models[(store, casts)], fused, summed))
                    worker.start()
                    worker.join()
                else:
                    run(models[(store, casts)], fused, summed)
                seconds[variant].append(time.perf_counter() - started)
                losses[variant] = summed[0]
    finally:
        objective._own_attention_fits = fits  # type: ignore[assignment]
        objective.MATERIALISED_SCORES = limit
        objective.SPLIT_ATTENTION = split

    tokens = sum(b.real_tokens for b in plan)
    reference = min(seconds[variants[0]])
    previous = min(seconds[("explicit+fused", True, True, False)])
    out = [f"{len(plan)} batches sampled from the demo plan (widths {sorted(b.width for b in plan)}, "
           f"{tokens} real tokens), bf16 autocast, {'exact' if args.exact else 'no'} prefix gradients, "
           f"{torch.get_num_threads()} threads, best of {args.repeats}"
           + (", each variant in a new thread" if args.thread else ""),
           f"{'attention':>15} {'frozen weights':>15} {'loss':>6} {'block casts':>12} {'seconds':>8} "
           f"{'vs stock':>9} {'vs previous':>12} {'summed loss':>12}"]
    for variant in variants:
        attention, store, fused, casts = variant
        best = min(seconds[variant])
        out.append(f"{attention:>15} {'bf16' if store else 'fp32':>15} {'fused' if fused else 'stock':>6} "
                   f"{'once' if casts else 'per layer':>12} {best:8.1f} {reference / best:8.2f}x "
                   f"{previous / best:11.2f}x {losses[variant]:12.2f}")
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
