"""How evaluation items are cut into the predictor's batches, side by side in one run.

* before: every 64 items in service order — a chunk that ran across two tool blocks (or
  a service's cross-service rows) decoded as two part-filled batches, each to its
  longest row;
* now (`evaluation.runner.chunks`): runs of one system turn each, as few as the size allows.

Both with the same `LocalPredictor` (the project's evaluation settings) over the gated
splits `mcptrain eval` scores; reported: batches, seconds, items/s, and whether every
output is the same.

    .venv/bin/python benchmarks/chunk_bench.py --adapter .mcptrain/artifacts/lora-XXXX
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT]  # see train_bench.py

from mcptrain.dataset.handle import open_dataset  # noqa: E402
from mcptrain.dataset.splits import GATED_SPLITS  # noqa: E402
from mcptrain.evaluation.report import eval_items  # noqa: E402
from mcptrain.evaluation.runner import chunks  # noqa: E402
from mcptrain.specs.loader import load_specs  # noqa: E402
from mcptrain.training.predictor import local_predictor  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--adapter", type=Path, default=None, help="a trained adapter (default: the base model)")
    ap.add_argument("--size", type=int, default=64)
    args = ap.parse_args()
    specs, _ = load_specs(ROOT)
    project = specs.project_spec
    dataset = open_dataset(ROOT)
    rows = [r for split in GATED_SPLITS for r in dataset.rows(split)]
    items = eval_items(rows)
    predictor = local_predictor(project, args.adapter)
    predictor.predict([{**items[0].row, "messages": items[0].prompt}])  # warm-up

    def run(parts: list[list[Any]]) -> tuple[float, list[str]]:
        started = time.perf_counter()
        out: list[str] = []
        for part in parts:
            out += predictor.predict([{**i.row, "messages": i.prompt} for i in part])
        return time.perf_counter() - started, out

    by_service = sorted(items, key=lambda i: str(i.row.get("service", "")))
    before = [by_service[s : s + args.size] for s in range(0, len(by_service), args.size)]
    now = chunks(items, args.size)
    secs_b, out_b = run(before)
    secs_n, out_n = run(now)
    got_b = dict(zip([i.id for p in before for i in p], out_b, strict=True))
    got_n = dict(zip([i.id for p in now for i in p], out_n, strict=True))
    same = sum(got_b[k] == got_n[k] for k in got_b)
    n = len(items)
    print(f"{n} items of {', '.join(GATED_SPLITS)}, {'adapter ' + str(args.adapter) if args.adapter else 'base model'}")
    print(f"before: {len(before)} chunks, {secs_b:.1f} s, {n / secs_b:.2f} items/s")
    print(f"now:    {len(now)} chunks, {secs_n:.1f} s, {n / secs_n:.2f} items/s, {secs_b / secs_n:.2f}x; "
          f"same output {same}/{n}")


if __name__ == "__main__":
    main()
