"""Which precision lever this CPU has: matrix products at the base model's own shapes.

A training step of the demo is mostly matrix products (profiled on a 2-core AMD EPYC
without bf16: `aten::mm` 61% of a step's CPU time, attention 7%), so how fast this CPU
multiplies decides how many steps ten minutes hold. For each linear layer shape of the
base model (hidden -> hidden, hidden -> MLP, MLP -> hidden) at a batch's token count,
side by side in one run: fp32; bf16 (what `Precision` picks when the CPU has bf16
matmuls: AMX or AVX512-BF16; without them torch emulates it, far slower than fp32); and
int8 with dynamically quantized activations (fbgemm's `quantize_dynamic`, forward only:
a bound on what an int8 frozen base could give). Figures are GFLOP/s of the fp32 product
(2 x m x k x n per product), best of `--repeats`.

    .venv/bin/python benchmarks/matmul_bench.py [--tokens 1024] [--repeats 20]
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT]  # see train_bench.py

EMBEDDED = "embedded:smollm2-135m-instruct"


def best_seconds(repeats: int, run: Callable[..., Any], *inputs: Any) -> float:
    run(*inputs)  # the first call pays for packing and allocation
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        run(*inputs)
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokens", type=int, default=1024, help="rows of the activation matrix (a batch's tokens)")
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--no-int8", action="store_true")
    ap.add_argument("--model", default=EMBEDDED, help="whose linear layer shapes (a base model name or folder)")
    args = ap.parse_args()
    import torch
    from transformers import AutoConfig

    from mcptrain.training.model import resolve_base_model
    from mcptrain.training.precision import choose_precision

    config = AutoConfig.from_pretrained(str(resolve_base_model(args.model)))
    hidden, mlp = config.hidden_size, config.intermediate_size
    shapes = [(hidden, hidden), (hidden, mlp), (mlp, hidden)]
    engines = [e for e in ("fbgemm", "x86", "qnnpack") if e in torch.backends.quantized.supported_engines]
    int8 = bool(engines) and not args.no_int8
    if int8:
        torch.backends.quantized.engine = engines[0]
    chosen = choose_precision("bf16", "cpu")  # `training.precision`'s default
    print(f"{torch.get_num_threads()} threads, torch {torch.__version__} "
          f"({torch.backends.cpu.get_cpu_capability()}); mcptrain would train in {chosen.used} "
          f"({chosen.reason}); {args.tokens} tokens, best of {args.repeats}"
          + (f"; int8 on {engines[0]}" if int8 else "; no int8 (no quantized engine)" if not engines else ""))
    print(f"{'k -> n':>12} {'fp32 GFLOP/s':>13} {'bf16':>8} {'bf16/fp32':>10} {'int8 dyn':>9} {'int8/fp32':>10}")
    totals = {"fp32": 0.0, "bf16": 0.0, "int8": 0.0}
    for k, n in shapes:
        torch.manual_seed(0)
        x, w = torch.randn(args.tokens, k), torch.randn(k, n)
        flops = 2 * args.tokens * k * n
        seconds = {"fp32": best_seconds(args.repeats, torch.mm, x, w)}
        xb, wb = x.to(torch.bfloat16), w.to(torch.bfloat16)
        seconds["bf16"] = best_seconds(args.repeats, torch.mm, xb, wb)
        if int8:
            layer = torch.nn.Linear(k, n, bias=False)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the eager quantization API's deprecation notice
                quantized = torch.ao.quantization.quantize_dynamic(
                    torch.nn.Sequential(layer), {torch.nn.Linear}, dtype=torch.qint8)
            with torch.no_grad():
                seconds["int8"] = best_seconds(args.repeats, quantized, x)
        for key, s in seconds.items():
            totals[key] += s
        rate = {key: flops / s / 1e9 for key, s in seconds.items()}
        int8_cells = (f"{rate['int8']:9.1f} {seconds['fp32'] / seconds['int8']:9.2f}x" if "int8" in rate
                      else f"{'-':>9} {'-':>10}")
        print(f"{f'{k} -> {n}':>12} {rate['fp32']:13.1f} {rate['bf16']:8.1f} "
              f"{seconds['fp32'] / seconds['bf16']:9.2f}x {int8_cells}")
    ratio = totals["fp32"] / totals["bf16"]
    line = f"all three shapes: bf16 {ratio:.2f}x fp32"
    if totals["int8"]:
        line += f", int8 {totals['fp32'] / totals['int8']:.2f}x fp32"
    print(line)


if __name__ == "__main__":
    main()
