"""`mcptrain validate` on a 100 services x 20 tools x 25 examples organisation (50,000 examples),
against the time PyYAML's C loader alone takes to parse the same files, in one run.

    .venv/bin/python benchmarks/validate_bench.py [--services N]
"""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.generate_org import generate_org  # noqa: E402
from mcptrain.specs.loader import find_spec_files  # noqa: E402
from mcptrain.specs.validator import validate_repository  # noqa: E402


def best_of(n: int, fn: object) -> float:
    times = []
    for _ in range(n):
        started = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--services", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = generate_org(Path(tmp) / "org", services=args.services)
        files = find_spec_files(root)

        def parse_only() -> None:
            for f in files:
                yaml.load(f.read_bytes(), Loader=yaml.CSafeLoader)

        def validate() -> None:
            result = validate_repository(root)
            assert not result.errors, result.errors[:3]

        validate()  # warm imports and caches
        t_parse = best_of(args.repeat, parse_only)
        t_validate = best_of(args.repeat, validate)
        gc.disable()
        t_parse_nogc = best_of(args.repeat, parse_only)
        gc.enable()
        n_examples = args.services * 20 * 25
        print(f"files: {len(files)}  examples: {n_examples}")
        print(f"PyYAML CSafeLoader parse only: {t_parse:.2f} s")
        print(f"mcptrain validate (full):      {t_validate:.2f} s")
        print(f"  (parse only, GC paused:      {t_parse_nogc:.2f} s; validate pauses GC while loading)")
        print(f"ratio validate / parse:        {t_validate / t_parse:.2f}x  (target <= 2.00x)")
        print(f"ratio vs GC-paused parse:      {t_validate / t_parse_nogc:.2f}x")


if __name__ == "__main__":
    main()
