"""What the decoder's extra passes cost, side by side in one run on the same items.

Two of the decoder's rules run more than one forward pass over a prompt:

* the decision head on `[adapter, base]` (`training.decision_head_inputs`, the default)
  runs the base model once over every prompt before decoding, for its hidden state; a
  head on `[adapter]` reads only the merged model's. The `[adapter]` variant here is the
  adapter's half of the same head (its mean, scale and weights for the first hidden
  size), so it decides differently: the time is what is compared, and how many outputs
  agree is reported beside it;
* invented values (`evaluation.invented_values`, the default) decode again, as a text
  answer, the rows whose call made up a value.

The adapter must hold a `decision.json` with a head on `[adapter, base]` (what `mcptrain
train` writes by default). Every variant decodes the first `--items` scored items of
`--rows`; each runs `--repeats` times, alternating, and the best time is kept.

    .venv/bin/python benchmarks/decision_bench.py --adapter .mcptrain/artifacts/lora-... [--items 96]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT]  # see train_bench.py

from mcptrain.evaluation.report import eval_items  # noqa: E402
from mcptrain.training.model import EMBEDDED  # noqa: E402
from mcptrain.training.predictor import LocalPredictor  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--adapter", type=Path, required=True)
    ap.add_argument("--model", default=EMBEDDED)
    ap.add_argument("--items", type=int, default=96)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--rows", type=Path, nargs="+",
                    default=[ROOT / "datasets" / "validation.jsonl", ROOT / "datasets" / "test.jsonl"])
    args = ap.parse_args()
    import torch

    rows = [json.loads(line) for path in args.rows for line in path.read_text(encoding="utf-8").splitlines()]
    prompts = [{**item.row, "messages": item.prompt} for item in eval_items(rows)[: args.items]]
    predictor = LocalPredictor(args.model, args.adapter)
    decision = predictor.decision
    if decision is None or decision.head is None or decision.head.inputs != ("adapter", "base"):
        sys.exit(f"{args.adapter}: no decision head on [adapter, base] in decision.json")
    both = decision.head
    width = len(both.mean) // 2
    alone = replace(both, mean=both.mean[:width], scale=both.scale[:width], weight=both.weight[:width],
                    inputs=("adapter",))
    variants = {
        "head [adapter, base], invented values on": (both, True),
        "head [adapter, base], invented values off": (both, False),
        "head [adapter], invented values on": (alone, True),
    }
    predictor.predict(prompts[:2])  # warm-up: kernels, grammar compile, the base model's load
    best: dict[str, float] = {}
    outputs: dict[str, list[str]] = {}
    for _ in range(args.repeats):
        for name, (head, invented) in variants.items():
            predictor.decision, predictor.invented_values = replace(decision, head=head), invented
            started = time.perf_counter()
            outputs[name] = predictor.predict(prompts)
            best[name] = min(best.get(name, float("inf")), time.perf_counter() - started)
    n, reference = len(prompts), next(iter(variants))
    redone = sum(predictor.without_invented(p, o) is None
                 for p, o in zip(prompts, outputs["head [adapter, base], invented values off"], strict=True))
    print(f"{n} items of {', '.join(p.name for p in args.rows)}, {torch.get_num_threads()} threads, "
          f"best of {args.repeats}; {redone} rows decoded again for an invented value")
    print(f"{'':44}{'seconds':>10}{'items/s':>10}{'vs default':>12}{'same output':>13}")
    for name in variants:
        same = sum(a == b for a, b in zip(outputs[name], outputs[reference], strict=True))
        print(f"{name:44}{best[name]:>10.1f}{n / best[name]:>10.2f}{best[reference] / best[name]:>11.2f}x"
              f"{same:>9}/{n}")


if __name__ == "__main__":
    main()
