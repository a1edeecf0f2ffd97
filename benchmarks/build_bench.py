"""`mcptrain build` (without DVC) on a 100 services x 20 tools x 25 examples organisation
(50,000 examples): a cold build, a warm one (every service from the build cache), and
one after a single example changed (one service recompiled).

    .venv/bin/python benchmarks/build_bench.py [--services N]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.generate_org import generate_org  # noqa: E402
from mcptrain.dataset.build import build_dataset  # noqa: E402
from mcptrain.specs.validator import validate_repository  # noqa: E402


def timed(fn: object) -> tuple[float, object]:
    started = time.perf_counter()
    value = fn()  # type: ignore[operator]
    return time.perf_counter() - started, value


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--services", type=int, default=100)
    ap.add_argument("--tools", type=int, default=20)
    ap.add_argument("--examples", type=int, default=25)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = generate_org(Path(tmp) / "org", services=args.services, tools=args.tools, examples=args.examples)
        t_validate, _ = timed(lambda: validate_repository(root))
        t_cold, cold = timed(lambda: build_dataset(root))
        t_warm, warm = timed(lambda: build_dataset(root))
        edited = root / "specs" / "svc000" / "examples" / "tool00.yaml"
        edited.write_text(edited.read_text(encoding="utf-8").replace("(case 0.0.0)", "(case 0.0.0, edited)"),
                          encoding="utf-8")
        t_one, one = timed(lambda: build_dataset(root))
        m = cold.manifest  # type: ignore[attr-defined]
        size = sum(f["bytes"] for f in m["files"].values())
        n_examples = args.services * args.tools * args.examples
        print(f"examples: {n_examples}  rows: {sum(m['counts']['splits'].values())}  "
              f"removed as contamination: {m['contamination']['removed']}")
        print(f"splits: {m['counts']['splits']}")
        print(f"output: {len(m['files']) + 1} files, {size / 1e6:.0f} MB")
        print(f"validate alone:              {t_validate:6.2f} s")
        print(f"build, cold cache:           {t_cold:6.2f} s")
        print(f"build, warm cache:           {t_warm:6.2f} s  "
              f"(reused {len(warm.reused)}, compiled {len(warm.compiled)})")  # type: ignore[attr-defined]
        print(f"build, one example edited:   {t_one:6.2f} s  "
              f"(reused {len(one.reused)}, compiled {len(one.compiled)})")  # type: ignore[attr-defined]
        same = warm.manifest["content_hash"] == m["content_hash"]  # type: ignore[attr-defined]
        print(f"warm build reproduces the cold one byte for byte: {same}")


if __name__ == "__main__":
    main()
