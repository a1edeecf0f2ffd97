"""`mcptrain promote`: open or update the promotion pull request for the gated candidate.

The same stage `mcptrain reconcile` ends with, run alone: it refuses a candidate whose
train, eval or gate record is stale (run `mcptrain reconcile` first), and re-running it
changes nothing when nothing changed.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from mcptrain import output
from mcptrain.errors import StageError

if TYPE_CHECKING:
    from mcptrain.reconciler.promote import PromoteOutcome


def run(root: Path) -> int:
    from mcptrain.commands.plan import replan
    from mcptrain.reconciler.promote import promote_stage
    from mcptrain.workspace import Workspace

    ws = Workspace(root)
    _, diags = ws.load_specs()
    errors = [d for d in diags if d.severity == "error"]
    if errors:
        output.diagnostics(errors)
        raise StageError("the specs are invalid; nothing was promoted", hint="mcptrain validate")
    plan = replan(ws).plan
    stale = [a.stage for a in plan.actions if a.stage != "promote" and a.action != "up to date"]
    if stale:
        raise StageError(f"the candidate is stale: {', '.join(stale)} would run again, so what would be "
                         "promoted is not what was evaluated and gated", hint="mcptrain reconcile")
    if plan.action("promote").action == "skip":
        raise StageError(f"cannot promote: {plan.action('promote').reason}")
    show(promote_stage(ws, plan))
    return 0


def show(outcome: PromoteOutcome) -> None:
    """What the promote stage did, and how to read the pull request (reconcile prints it too)."""
    if outcome.promoted is None:
        output.info(f"mcptrain: nothing to promote: {outcome.skipped}")
        return
    done = outcome.promoted
    p = done.proposal
    bump = f"{p.bump.level} over v{p.previous}" if p.previous else "the first version"
    output.info(f"mcptrain: {p.model} v{p.version} ({bump}); why:")
    for r in p.bump.reasons:
        output.info(f"  {r.level}: {r.text}")
    pr = done.pull_request
    if done.push.blocked_by is not None:
        output.warn(f"a person pushed {done.push.blocked_by[:12]} to {p.branch}; mcptrain does not "
                    f"push over it, so v{p.version} is not on the branch"
                    + (f" and pull request #{pr.number} was left as it is" if pr else ""))
        output.info(f"mcptrain: next: merge or delete {p.branch}, then mcptrain promote")
        return
    assert pr is not None
    word = {"opened": "opened", "edited": "updated in place", "unchanged": "unchanged"}[done.action]
    pushed = f"pushed {done.push.sha[:12]}" if done.push.changed else f"unchanged at {done.push.sha[:12]}"
    output.info(f"mcptrain: pull request #{pr.number} {word}: {p.title}")
    output.info(f"mcptrain: branch {p.branch} {pushed}; label '{p.label}'; status mcptrain/gates: {p.state}")
    output.info(f"mcptrain: read it: mcptrain pr show {pr.number}" + (f" ({pr.url})" if pr.url.startswith("http") else ""))
