"""`mcptrain reconcile`: bring the model in line with the specs — build, train, evaluate, gate.

Like `terraform apply`: the cheap part (validate + build, incremental) always runs, then
the plan for the expensive stages is shown with the reason for each, and applied after
confirmation (`--yes` in CI). A stage whose inputs are unchanged and whose outputs are on
disk is skipped, so a second run with nothing changed does nothing and says so, and a
run that died part-way continues from the last finished stage.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import typer

from mcptrain import output
from mcptrain.errors import ConfigError

BLOCKED_EXIT = 4


def run(root: Path, *, yes: bool = False, dry_run: bool = False, push: bool = False, inline: bool = False,
        limit: int | None = None, fail_on_block: bool = False) -> int:
    from mcptrain.commands import build
    from mcptrain.dataset.handle import open_dataset
    from mcptrain.dataset.splits import EVAL_SPLITS
    from mcptrain.gates import apply_gates
    from mcptrain.reconciler.records import inputs_hash, read_record, up_to_date
    from mcptrain.reconciler.stages import eval_inputs, train_inputs
    from mcptrain.specs.loader import load_specs

    started = time.perf_counter()
    output.note("[bold]1/4 build[/bold]")
    before = _content_hash(root)
    rc = build.run(root, push=push)
    if rc:
        return rc
    specs, _ = load_specs(root)
    project = specs.project_spec
    policies = [p.spec for p in specs.policies]
    dataset = open_dataset(root)
    data_changed = before != dataset.content_hash

    train_in = train_inputs(project, dataset)
    eval_in = eval_inputs(dataset, train_in, EVAL_SPLITS, True, limit, project)
    gate_in = inputs_hash({"eval": eval_in, "policies": [p.model_dump(mode="json") for p in policies]})
    train_done = up_to_date(root, "train", train_in, "artifact")
    eval_done = up_to_date(root, "eval", eval_in, "report")
    gate_done = up_to_date(root, "gate", gate_in)
    previous_train = read_record(root, "train")
    plan = [
        ("train", "up to date" if train_done else "run",
         "inputs unchanged" if train_done else _train_reason(previous_train, dataset.content_hash)),
        ("eval", "up to date" if eval_done else "run",
         "inputs unchanged" if eval_done else "the candidate or the scored splits changed"),
        ("gate", "up to date" if gate_done else "run",
         "inputs unchanged" if gate_done else "the evaluation or the gate policies changed"),
    ]
    output.table("plan", ["stage", "action", "why"], plan)
    if train_done and eval_done and gate_done:
        verdict = gate_done["outputs"]["verdict"]
        output.info(f"mcptrain: nothing to do: the dataset is {'rebuilt' if data_changed else 'unchanged'} "
                    f"({dataset.content_hash[:12]}) and the model, its evaluation and its gate verdict "
                    f"({verdict['decision']}) are up to date")
        return BLOCKED_EXIT if fail_on_block and verdict["decision"] == "blocked" else 0
    if dry_run:
        output.info("mcptrain: dry run; nothing was trained or evaluated")
        return 0
    if not yes:
        if not sys.stdin.isatty():
            raise ConfigError("reconcile needs confirmation to train and evaluate; pass --yes in CI")
        if not typer.confirm("Apply this plan?", default=False):
            output.info("mcptrain: cancelled; nothing was trained or evaluated")
            return 0

    from mcptrain.commands.eval import show_report
    from mcptrain.commands.train import show_training, training_progress
    from mcptrain.reconciler.records import write_record
    from mcptrain.reconciler.stages import eval_stage, train_stage

    output.note("[bold]2/4 train[/bold]")
    from mcptrain.training.backends import get_backend

    with training_progress(get_backend(project.backend).progress_total(project)) as on_progress:
        trained = train_stage(root, project, runner="inline" if inline else "ray", on_progress=on_progress)
    show_training(trained)

    output.note("[bold]3/4 eval[/bold]")
    out_dir = root / ".mcptrain" / "eval" / trained.inputs[:12]
    evaluated = eval_stage(root, project, trained.artifact, artifact_inputs=trained.inputs, out_dir=out_dir,
                           splits=EVAL_SPLITS, baseline=True, limit=limit,
                           notify=lambda m: output.info(f"mcptrain: {m}"))
    show_report(evaluated.summary, evaluated.baseline)
    if evaluated.reused:
        output.info("mcptrain: evaluation is up to date; not run again")
    else:
        output.info(f"mcptrain: scored {evaluated.items} items "
                    f"({', '.join(f'{k} {v:.0f}s' for k, v in evaluated.seconds.items())})")

    output.note("[bold]4/4 gate[/bold]")
    if not policies:
        output.warn("no GatePolicy in policies/: nothing is gated, so nothing may be promoted")
        decision: dict[str, Any] = {"decision": "blocked", "reason": "no gate policy",
                                    "deployable_services": [], "checks": []}
    else:
        # No model has been promoted yet (promotion keeps models/registry.yaml), so there is
        # no production model to measure regression against.
        decision = apply_gates(policies, evaluated.summary, production=None).as_dict()
        failed = [c for c in decision["checks"] if not c["passed"]]
        rows = [(c["policy"], c["check"], f"{c['required']:.2f}",
                 "-" if c["actual"] is None else f"{c['actual']:.3f}", c["detail"]) for c in failed]
        if rows:
            output.table(f"failed gate checks ({len(failed)} of {len(decision['checks'])})",
                         ["policy", "check", "required", "actual", "detail"], rows)
    write_record(root, "gate", gate_in, {"verdict": decision, "eval": str(out_dir.relative_to(root))})
    elapsed = time.perf_counter() - started
    output.info(f"mcptrain: verdict {decision['decision']}: {decision['reason']}")
    output.info(f"mcptrain: reconciled in {elapsed:.0f}s; artifact {trained.artifact.relative_to(root)}"
                if trained.artifact.is_relative_to(root) else f"mcptrain: reconciled in {elapsed:.0f}s")
    output.info(f"mcptrain: report {out_dir / 'report.md'}")
    return BLOCKED_EXIT if fail_on_block and decision["decision"] == "blocked" else 0


def _content_hash(root: Path) -> str | None:
    import json

    try:
        return str(json.loads((root / "datasets" / "manifest.json").read_text(encoding="utf-8"))["content_hash"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _train_reason(previous: dict[str, Any] | None, data: str) -> str:
    if previous is None:
        return "never trained"
    if previous.get("outputs", {}).get("data") != data:
        return "the dataset changed"
    return "the base model, backend or training settings changed (or the artifact is gone)"
