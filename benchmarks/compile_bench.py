"""torch.compile on a training step: none, the MLPs and norms, or whole decoder layers.

The demo's model and recipe (LoRA r=16 on all linear layers, bf16 autocast, frozen weights
stored in bf16, no gradients through the tool block), the first `--batches` batches of
the demo's training plan, forward + backward. The first batch pays for compilation and is
reported apart; the rest are summed. Run each mode in its own process, one after the
other (compiled code stays in the process):

    for m in none mlp layer; do .venv/bin/python benchmarks/compile_bench.py --mode $m; done
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT]  # see train_bench.py

from mcptrain.training import model as base_model  # noqa: E402
from mcptrain.training import objective  # noqa: E402
from mcptrain.training.batches import plan_epoch  # noqa: E402
from mcptrain.training.precision import Precision  # noqa: E402
from mcptrain.training.prompt import choose_template, encode_row  # noqa: E402

EMBEDDED = "embedded:smollm2-135m-instruct"
ALL_LINEAR = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", choices=["none", "mlp", "layer"], default="none")
    ap.add_argument("--batches", type=int, default=8)
    ap.add_argument("--train", type=Path, default=ROOT / "datasets" / "train.jsonl")
    args = ap.parse_args()
    import torch
    from peft import LoraConfig, get_peft_model

    rows = [json.loads(line) for line in args.train.read_text(encoding="utf-8").splitlines()]
    tokenizer = base_model.load_tokenizer(EMBEDDED)
    template = choose_template(tokenizer)
    plan = plan_epoch([encode_row(tokenizer, template, r) for r in rows], 8, 1234, 0)[: args.batches]
    bf16 = Precision("bf16", "bf16", "benchmark")
    torch.manual_seed(0)
    model = get_peft_model(base_model.load_model(EMBEDDED), LoraConfig(
        r=16, lora_alpha=32, lora_dropout=0.0, target_modules=ALL_LINEAR, task_type="CAUSAL_LM"))
    bf16.store_frozen_weights(model)
    model.train()
    for layer in objective.unwrap(model).get_decoder().layers:
        if args.mode == "mlp":
            for part in (layer.mlp, layer.input_layernorm, layer.post_attention_layernorm):
                part.compile(dynamic=True)
        elif args.mode == "layer":
            layer.compile(dynamic=True)
    seconds, total = [], 0.0
    for batch in plan:
        started = time.perf_counter()
        with bf16.autocast():
            loss, n = objective.batch_loss(model, batch, False)
        (loss / n).backward()
        model.zero_grad(set_to_none=True)
        seconds.append(time.perf_counter() - started)
        total += float(loss.detach())
    sys.stdout.write(f"compile={args.mode}: first batch {seconds[0]:.1f} s, the other {len(plan) - 1} "
                     f"{sum(seconds[1:]):.1f} s, summed loss {total:.2f}\n")


if __name__ == "__main__":
    main()
