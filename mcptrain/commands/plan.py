"""`mcptrain plan`: what `reconcile` would do, and why, without training or evaluating.

Like `terraform plan`: the dataset is refreshed (the build is cheap and incremental; it
writes the git-ignored `datasets/`, never `datasets.dvc`), each stage's inputs are
compared with its record, and the plan is printed with the fingerprint of every input.
`--json` prints the plan document, `--out FILE` saves it for `mcptrain reconcile FILE`,
`--detailed-exitcode` exits 0 (nothing to do), 2 (changes) or 1 (an error), `--comment`
posts it (or the validation errors) as the pull request's plan comment through the forge.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mcptrain import output

if TYPE_CHECKING:
    from mcptrain.reconciler.lock import Holder
    from mcptrain.reconciler.plan import Plan
    from mcptrain.reconciler.sources import Facts
    from mcptrain.workspace import Workspace

CHANGES_EXIT = 2  # --detailed-exitcode: the plan has changes


@dataclass(frozen=True)
class Planned:
    plan: Plan
    files: dict[str, str]  # every spec file's fingerprint
    recorded: dict[str, str | None]  # each stage's recorded inputs when the plan was made
    facts: Facts


def run(root: Path, *, json_out: bool = False, detailed_exitcode: bool = False, out: Path | None = None,
        lock_timeout: float = 0.0, limit: int | None = None, comment: bool = False, pr: int | None = None) -> int:
    from mcptrain.reconciler.comment import pull_request_number
    from mcptrain.reconciler.saved_plan import plan_document, save_plan
    from mcptrain.workspace import Workspace

    ws = Workspace(root)
    number = pull_request_number(pr) if comment else None
    if number is not None:  # before the work: a pull request that is not there fails fast
        from mcptrain.forge import get_forge

        get_forge(ws.root, ws.project.forge, ws.state_dir).pull_request(number)
    with lock(ws, "mcptrain plan", lock_timeout), (output.quiet() if json_out else _nothing()):
        planned = make_plan(ws, track=False, push=False, limit=limit, quiet_build=True)
    if isinstance(planned, int):
        if number is not None:
            post_comment(ws, number, None)
        return planned
    document = plan_document(ws, planned.plan, planned.files, planned.recorded)
    if number is not None:
        post_comment(ws, number, document)
    if out is not None:
        save_plan(out, document)
    if json_out:
        output.emit_json(document)
    else:
        show_plan(planned.plan, document)
        show_summary(planned.plan, out)
    if detailed_exitcode and not planned.plan.up_to_date:
        return CHANGES_EXIT
    return 0


def make_plan(ws: Workspace, *, track: bool, push: bool, limit: int | None, quiet_build: bool = False) -> Planned | int:
    """Build the dataset unless the last build read exactly these spec files (then skip
    validate and build), and plan the stages after it. `track`: run DVC as `build` does."""
    from mcptrain.commands import build
    from mcptrain.reconciler.plan import RUN, UP_TO_DATE, Action, content_hash, plan_changes
    from mcptrain.reconciler.records import read_record
    from mcptrain.reconciler.saved_plan import recorded_state
    from mcptrain.reconciler.sources import (
        Facts,
        changed_files,
        record_build,
        recorded_build,
        source_files,
    )

    files = source_files(ws.root)
    dvc = track and ws.project.dvc.enabled
    before = content_hash(ws)
    skipped = recorded_build(ws, files, dvc=dvc, push=push)
    if skipped is not None:
        facts = skipped[1]
        action = Action("build", UP_TO_DATE, f"{len(files)} spec files unchanged since the last build")
        if not quiet_build:
            output.info(f"mcptrain: build is up to date: {len(files)} spec files unchanged since the last build "
                        f"(dataset {before and before[:12]})")
    else:
        previous = read_record(ws, "build")
        with output.quiet() if quiet_build else _nothing():
            rc = build.run(ws.root, push=push, no_dvc=not track, workspace=ws)
        if rc:
            return rc
        after = content_hash(ws) or ""
        facts = Facts.of(ws.load_specs()[0])
        record_build(ws, files, after, facts, dvc=dvc, pushed=push)
        why = changed_files(previous["outputs"].get("files") or {}, files) if previous else ["never built"]
        said = _listed(why) or "spec files unchanged; the last build's dataset, DVC pointer or record was not usable"
        live = production_entry(ws)
        if after == before and previous is None:  # `mcptrain build` ran, but no plan or reconcile since
            action = Action("build", UP_TO_DATE, f"{ws.dataset_dir.name}/ ({after[:12]}) is what the specs compile to; "
                                                 "its build is recorded now")
        elif after == before:
            action = Action("build", UP_TO_DATE, f"{said}; the dataset they compile to is unchanged")
        elif live is not None and live.dataset.content_hash == after:  # a fresh runner: datasets/ is derived
            action = Action("build", UP_TO_DATE, f"{said}; the dataset they compile to is production "
                                                 f"v{live.version}'s ({after[:12]})")
        else:
            action = Action("build", RUN, f"{said}: the dataset becomes {after[:12]}"
                            + (f" (was {before[:12]})" if before else ""))
    plan = plan_changes(ws, data_before=before, facts=facts, build=action, limit=limit)
    return Planned(plan, files, recorded_state(ws), facts)


def production_entry(ws: Workspace) -> Any:
    """The registry's production version of this project's model, if any."""
    from mcptrain.promotion.registry import read_registry

    return read_registry(ws.root).production(ws.project.name)


def replan(ws: Workspace, *, limit: int | None = None) -> Planned:
    """The plan again, for `promote` and for the promote stage after the gate ran: the build
    is skipped when no spec file moved, and otherwise refreshed quietly (an edit that leaves
    the dataset as it was, a project's `owners` say, leaves the candidate current)."""
    from mcptrain.errors import StageError

    with output.quiet():
        planned = make_plan(ws, track=False, push=False, limit=limit, quiet_build=True)
    if isinstance(planned, int):
        raise StageError("the specs do not build (see above); nothing was promoted", hint="mcptrain validate")
    return planned


def show_plan(plan: Plan, document: dict[str, Any]) -> None:
    output.table("plan", ["stage", "action", "why"], [(a.stage, a.action, a.reason) for a in plan.actions])
    show_version(plan)
    inputs = document["inputs"]
    rows = [(name, digest[:12]) for name, digest in inputs["groups"].items()]
    rows += [("dataset", inputs["dataset"][:12]), ("training data", inputs["training_data"][:12]),
             ("train inputs", inputs["train"][:12]), ("eval inputs", inputs["eval"][:12]),
             ("gate inputs", inputs["gate"][:12])]
    output.table("inputs", ["input", "fingerprint"], rows)


def show_version(plan: Plan) -> None:
    """The version a promotion of these specs gets over production, and every reason."""
    bump = plan.bump
    if bump is None:
        return
    if bump.level is None:
        output.info(f"version: no change since production v{bump.version}")
        return
    over = f"{bump.level} over production v{plan.production_version}" if plan.production_version else \
        "the first version"
    output.info(f"version: {bump.version} ({over})")
    for r in bump.reasons:
        output.info(f"  {r.level}: {r.text}")


def show_summary(plan: Plan, out: Path | None) -> None:
    if plan.up_to_date:
        output.info("mcptrain: plan: nothing to do; the model, its evaluation and its gate verdict are up to date")
        return
    saved = f"; saved to {out}: apply exactly this plan with mcptrain reconcile {out}" if out else \
        "; next: mcptrain reconcile (or plan --out FILE, then reconcile FILE)"
    from mcptrain.reconciler.plan import SKIP, UP_TO_DATE

    up = sum(a.action == UP_TO_DATE for a in plan.actions)
    skipped = [a.stage for a in plan.actions if a.action == SKIP]
    but = f", {', '.join(skipped)} skipped" if skipped else ""
    output.info(f"mcptrain: plan: {len(plan.to_run)} to run ({', '.join(plan.to_run)}), {up} up to date{but}{saved}")


def post_comment(ws: Workspace, number: int, document: dict[str, Any] | None) -> None:
    """The plan (or, when there is none, the validation errors) as the pull request's one
    plan comment, posted or edited in place."""
    from mcptrain.forge import get_forge
    from mcptrain.reconciler.comment import comment_marker, render_comment
    from mcptrain.specs.validator import validate_repository

    errors = [] if document is not None else validate_repository(ws.root).errors
    body = render_comment(ws.project.name, document, errors)
    forge = get_forge(ws.root, ws.project.forge, ws.state_dir)
    done = forge.upsert_comment(number, comment_marker(ws.project.name), body)
    what = "the plan" if document is not None else "the validation errors"
    output.note_err(f"mcptrain: plan comment {done} on pull request #{number} ({forge.name} forge): {what}")


def lock(ws: Workspace, command: str, timeout: float) -> Any:
    """The repository's lock, saying when it waits and when it takes over a dead holder's."""
    from mcptrain.reconciler.lock import hold_lock

    def waiting(holder: Holder | None) -> None:
        who = holder.describe() if holder else "another process"
        output.info(f"mcptrain: waiting up to {timeout:g}s for the lock held by {who}")

    def taken_over(holder: Holder) -> None:
        output.warn(f"took over the lock left by {holder.describe()}, which is no longer running")

    return hold_lock(ws, command, timeout=timeout, on_wait=waiting, on_takeover=taken_over)


def _listed(items: list[str]) -> str:
    return ", ".join(items) if len(items) <= 4 else f"{', '.join(items[:3])} and {len(items) - 3} more"


def _nothing() -> Any:
    from contextlib import nullcontext

    return nullcontext()
