"""A no-op `mcptrain reconcile` (nothing changed, warm `.mcptrain/`) on the demo organisation
and on the 100 services x 20 tools x 25 examples organisation (50,000 examples), each
against `mcptrain validate` of the same repository, as the CLI runs them (subprocesses,
interpreter start-up included). Targets (issue 15): <= 1 s on the demo, <= 3 s on the large one.

`mcptrain validate` is measured three ways: cold (its cache under `.mcptrain/cache/validate/`
removed first), with nothing changed since the last run, and after one examples file was
edited (a different file each repeat: the pre-commit hook's case; target <= 1 s).

The subprocesses keep their compiled bytecode in a temporary `PYTHONPYCACHEPREFIX` (as an
installed mcptrain has its `.pyc` files), even where `PYTHONDONTWRITEBYTECODE` is set;
`--no-bytecode` measures with every module compiled again on each run instead.

The train, eval and gate records a finished reconcile leaves are written with the inputs
`plan` computes and stand-in outputs (an artifact folder, a report file, a verdict): no
model is trained here, and the no-op path only checks that those exist.

    .venv/bin/python benchmarks/reconcile_bench.py [--services N] [--repeat N] [--no-bytecode]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from benchmarks.generate_org import generate_org  # noqa: E402


def demo_copy(target: Path) -> Path:
    target.mkdir(parents=True)
    for name in ("specs", "policies"):
        shutil.copytree(REPO / name, target / name)
    project = (REPO / "mcptrain.yaml").read_text(encoding="utf-8")
    project = re.sub(r"^dvc:\n(  .*\n)+", "dvc: {enabled: false}\n", project, flags=re.M)
    (target / "mcptrain.yaml").write_text(project, encoding="utf-8")
    return target


def settle(root: Path) -> None:
    """Plan (which builds), then leave the records a finished reconcile leaves."""
    from mcptrain import output
    from mcptrain.commands.plan import make_plan
    from mcptrain.reconciler.records import write_record
    from mcptrain.workspace import Workspace

    ws = Workspace(root)
    with output.quiet():
        planned = make_plan(ws, track=False, push=False, limit=None, quiet_build=True)
    assert not isinstance(planned, int), "the specs do not validate"
    plan = planned.plan
    artifact = ws.artifacts_dir / f"bench-{plan.train_inputs[:12]}"
    artifact.mkdir(parents=True, exist_ok=True)
    report = ws.eval_dir / plan.train_inputs[:12] / "report.json"
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text("{}", encoding="utf-8")
    write_record(ws, "train", plan.train_inputs, {"artifact": ws.relative(artifact), "data": plan.training_hash})
    write_record(ws, "eval", plan.eval_inputs, {"report": ws.relative(report)})
    write_record(ws, "gate", plan.gate_inputs, {"verdict": {"decision": "full"}, "data": plan.content_hash})


ENV = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}


def best_of(n: int, *args: str, before: Callable[[int], None] | None = None) -> float:
    times = []
    env = ENV
    for i in range(n):
        if before is not None:
            before(i)
        started = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "mcptrain", *args], capture_output=True, text=True, env=env)
        times.append(time.perf_counter() - started)
        assert proc.returncode == 0, proc.stderr
        if args[0] == "reconcile":
            assert "mcptrain: nothing to do" in proc.stdout, proc.stdout
    return min(times)


def measure(name: str, root: Path, repeat: int) -> None:
    settle(root)
    noop = best_of(repeat, "reconcile", str(root), "--yes")
    cache = root / ".mcptrain" / "cache" / "validate"
    cold = best_of(repeat, "validate", str(root), before=lambda _: shutil.rmtree(cache, ignore_errors=True))
    unchanged = best_of(repeat, "validate", str(root))
    examples = sorted((root / "specs").rglob("examples/*.yaml"))

    def edit_one(i: int) -> None:  # a new query: the file's bytes, ids and queries change
        path = examples[(i * 7919) % len(examples)]
        path.write_text(re.sub(r"(?m)^(    query: )", rf"\1Please (edit {i}) ", path.read_text(), count=1))

    edited = best_of(repeat, "validate", str(root), before=edit_one)
    files = sum(1 for _ in (root / "specs").rglob("*.yaml"))
    print(f"{name}: {files} spec files")
    print(f"  mcptrain reconcile (no-op):        {noop:.2f} s")
    print(f"  mcptrain validate, cold cache:     {cold:.2f} s")
    print(f"  mcptrain validate, nothing edited: {unchanged:.2f} s")
    print(f"  mcptrain validate, one file edited: {edited:.2f} s  ({cold / edited:.1f}x faster than cold)")
    print(f"  (load average now: {os.getloadavg()[0]:.2f})")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--services", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-bytecode", action="store_true", help="compile every module on every run")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if not args.no_bytecode:
            ENV.pop("PYTHONDONTWRITEBYTECODE", None)
            ENV["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "pycache")
        print(f"load average before: {os.getloadavg()[0]:.2f}; bytecode {'not ' if args.no_bytecode else ''}kept")
        measure("demo organisation", demo_copy(Path(tmp) / "demo"), args.repeat)
        org = generate_org(Path(tmp) / "org", services=args.services)
        with (org / "mcptrain.yaml").open("a", encoding="utf-8") as f:
            f.write("dvc: {enabled: false}\n")
        measure(f"benchmark organisation ({args.services * 20 * 25:,} examples)", org, args.repeat)


if __name__ == "__main__":
    main()
