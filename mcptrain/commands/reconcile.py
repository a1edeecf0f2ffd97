"""`mcptrain reconcile`: bring the model in line with the specs — build, train, evaluate, gate.

Like `terraform apply`: the cheap part (validate + build, incremental; skipped outright
when no spec file changed since the last build) runs, then the plan for the expensive
stages is shown with the reason for each, and applied after confirmation (`--yes` in CI),
or a plan saved by `mcptrain plan --out FILE` is checked and applied as it is. A stage
whose inputs are unchanged and whose outputs are on disk is skipped, so a second run with
nothing changed does nothing and says so, and a run that died part-way continues from the
last finished stage. One run at a time holds the repository's lock (`reconciler/lock.py`).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from mcptrain import output
from mcptrain.errors import ConfigError

if TYPE_CHECKING:
    from mcptrain.reconciler.plan import Plan
    from mcptrain.workspace import Workspace

BLOCKED_EXIT = 4
SHIPS = ("full", "partial")  # the verdicts under which something is deployed; others exit 4 with --fail-on-block


def run(root: Path, *, yes: bool = False, dry_run: bool = False, push: bool = False, inline: bool = False,
        limit: int | None = None, fail_on_block: bool = False, saved: Path | None = None,
        lock_timeout: float = 0.0) -> int:
    from mcptrain.commands.plan import lock
    from mcptrain.workspace import Workspace

    ws = Workspace(root)
    with lock(ws, "mcptrain reconcile", lock_timeout):
        return _reconcile(ws, yes=yes, dry_run=dry_run, push=push, inline=inline, limit=limit,
                          fail_on_block=fail_on_block, saved=saved)


def _reconcile(ws: Workspace, *, yes: bool, dry_run: bool, push: bool, inline: bool, limit: int | None,
               fail_on_block: bool, saved: Path | None) -> int:
    from mcptrain.commands.plan import make_plan
    from mcptrain.reconciler import plan as reconciler
    from mcptrain.reconciler import saved_plan

    root = ws.root
    started = time.perf_counter()
    document = None
    if saved is not None:
        document = saved_plan.load_plan(saved)
        saved_plan.check_origin(saved, document, ws)
        from mcptrain.reconciler.sources import source_files

        saved_plan.check_inputs(saved, document, ws, source_files(root))
        limit = document.get("limit")
    output.note("[bold]1/5 build[/bold]")
    planned = make_plan(ws, track=True, push=push, limit=limit)
    if isinstance(planned, int):
        return planned
    plan = planned.plan
    if saved is not None and document is not None:
        saved_plan.check_same(saved, document, plan)
        output.info(f"mcptrain: applying the saved plan {saved} ({document.get('created_at')}): every input "
                    "is as planned")
    output.table("plan", ["stage", "action", "why"], [(a.stage, a.action, a.reason) for a in plan.actions])
    if plan.up_to_date and plan.gate_record is not None:
        verdict = plan.gate_record["outputs"]["verdict"]
        output.info(f"mcptrain: nothing to do: the dataset is {'rebuilt' if plan.data_changed else 'unchanged'} "
                    f"({plan.content_hash[:12]}) and the model, its evaluation and its gate verdict "
                    f"({verdict['decision']}) are up to date")
        _show_promoted(ws)
        return BLOCKED_EXIT if fail_on_block and verdict["decision"] not in SHIPS else 0
    if plan.up_to_date and plan.in_git is not None and plan.in_git.matches:
        output.info(f"mcptrain: nothing to do: production v{plan.in_git.version} matches the specs (the registry "
                    "records the inputs it was trained, evaluated and gated on; the local cache was cold)")
        return BLOCKED_EXIT if fail_on_block and plan.in_git.decision not in SHIPS else 0
    if plan.action("train").action == reconciler.RUN:
        _show_cost(ws, plan)
    if dry_run:
        output.info("mcptrain: dry run; nothing was trained or evaluated")
        return 0
    if not yes and saved is None:  # a saved plan was reviewed when it was made (terraform apply PLANFILE)
        if not sys.stdin.isatty():
            raise ConfigError("reconcile needs confirmation to train and evaluate; pass --yes in CI")
        if not typer.confirm("Apply this plan?", default=False):
            output.info("mcptrain: cancelled; nothing was trained or evaluated")
            return 0

    from mcptrain.commands.eval import show_report
    from mcptrain.commands.train import confirm_paid_job, show_training, training_progress
    from mcptrain.training.backends import get_backend

    output.note("[bold]2/5 train[/bold]")
    with training_progress(get_backend(plan.project.backend).progress_total(plan.project)) as on_progress:
        # `--yes` (or the plan's confirmation above) also accepts the paid job's estimate shown with the plan.
        trained = reconciler.train(ws, plan, inline=inline, on_progress=on_progress, confirm=confirm_paid_job(True))
    show_training(trained)

    output.note("[bold]3/5 eval[/bold]")
    evaluated = reconciler.evaluate(ws, plan, trained, notify=lambda m: output.info(f"mcptrain: {m}"))
    show_report(evaluated.summary, evaluated.baseline, evaluated.raw, evaluated.diagnostics, evaluated.gain)
    if evaluated.reused:
        output.info("mcptrain: evaluation is up to date; not run again")
    else:
        output.info(f"mcptrain: scored {evaluated.items} items "
                    f"({', '.join(f'{k} {v:.0f}s' for k, v in evaluated.seconds.items())})")

    output.note("[bold]4/5 gate[/bold]")
    if not plan.policies:
        output.warn("no GatePolicy in policies/: nothing is gated, so nothing may be promoted")
    decision = reconciler.gate(ws, plan, evaluated)
    failed = [c for c in decision["checks"] if not c["passed"]]
    rows = [(c["policy"], c["check"], f"{c['required']:.2f}",
             "-" if c["actual"] is None else f"{c['actual']:.3f}", c["detail"]) for c in failed]
    if rows:
        output.table(f"failed gate checks ({len(failed)} of {len(decision['checks'])})",
                     ["policy", "check", "required", "actual", "detail"], rows)
    elapsed = time.perf_counter() - started
    if decision["decision"] == "catastrophic":
        output.error(f"ALERT: {decision['reason']}")
    output.info(f"mcptrain: verdict {decision['decision']}: {decision['reason']}")
    if decision["decision"] == "retry":
        output.info("mcptrain: next: mcptrain reconcile (it retrains with the adjustments above)")
    _promote(ws, plan)
    output.info(f"mcptrain: reconciled in {elapsed:.0f}s; artifact {trained.artifact.relative_to(root)}"
                if trained.artifact.is_relative_to(root) else f"mcptrain: reconciled in {elapsed:.0f}s")
    output.info(f"mcptrain: report {evaluated.out_dir / 'report.md'}")
    return BLOCKED_EXIT if fail_on_block and decision["decision"] not in SHIPS else 0



def _show_promoted(ws: Workspace) -> None:
    from mcptrain.reconciler.records import read_record

    record = read_record(ws, "promote")
    outputs = record["outputs"] if record else {}
    if outputs.get("pull_request"):
        output.info(f"mcptrain: the promotion pull request #{outputs['pull_request']} (v{outputs['version']}) "
                    f"is up to date; read it: mcptrain pr show {outputs['pull_request']}")


def _promote(ws: Workspace, plan: Plan) -> None:
    from mcptrain.commands.plan import replan
    from mcptrain.commands.promote import show
    from mcptrain.reconciler.promote import promote_stage

    output.note("[bold]5/5 promote[/bold]")
    if plan.action("promote").action == "skip":
        output.info(f"mcptrain: promotion skipped: {plan.action('promote').reason}")
        return
    # The gate just ran: plan again so the promote stage sees the gate's new record.
    show(promote_stage(ws, replan(ws, limit=plan.limit).plan))


def _show_cost(ws: Workspace, plan: Plan) -> None:
    """Before anything is confirmed: a cloud backend's refusal, and a paid job's estimate."""
    from mcptrain.dataset.handle import open_dataset
    from mcptrain.reconciler.stages import refuse_cloud
    from mcptrain.training.backends import get_backend

    refuse_cloud(ws, plan.project)
    estimate = get_backend(plan.project.backend).estimate(plan.project, open_dataset(ws.root))
    if estimate is not None:
        output.info(f"mcptrain: paid training job: {estimate['description']}")
