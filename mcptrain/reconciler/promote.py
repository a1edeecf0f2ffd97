"""The promote stage: the gated candidate, as the records describe it, onto the forge.

`candidate_from_records` reads what the train, eval and gate stages recorded (so what is
promoted is exactly what was evaluated and gated: a stale record is refused by the plan
before this runs); `promote_stage` proposes, pushes and records the outcome under
`stages/promote.json`, so a second reconcile with nothing changed skips it. A run that
died between the push and the pull request finds the branch next time and finishes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from mcptrain.dataset.store import pointer_md5
from mcptrain.errors import StageError
from mcptrain.forge import get_forge
from mcptrain.promotion.promote import Candidate, Promoted, promote, propose
from mcptrain.promotion.registry import read_registry
from mcptrain.promotion.surface import capture_surface
from mcptrain.reconciler.plan import Plan
from mcptrain.reconciler.records import read_record, write_record
from mcptrain.workspace import Workspace


@dataclass(frozen=True)
class PromoteOutcome:
    promoted: Promoted | None
    skipped: str | None  # why nothing was promoted


def candidate_from_records(ws: Workspace, plan: Plan) -> Candidate:
    specs, _ = ws.load_specs()
    train, evaluated, gate = (read_record(ws, s) for s in ("train", "eval", "gate"))
    if train is None or evaluated is None or gate is None or gate["inputs"] != plan.gate_inputs:
        raise StageError("nothing to promote: the candidate has not been trained, evaluated and gated on "
                         "the current specs", hint="mcptrain reconcile")
    report_path = ws.root / evaluated["outputs"]["report"]
    report = json.loads(report_path.read_text(encoding="utf-8"))
    outputs = train["outputs"]
    summary = outputs.get("summary") or {}
    uri = summary.get("fine_tuned_model")  # the openai backend's model id
    return Candidate(
        model=plan.project.name, surface=capture_surface(specs), summary=report["candidate"],
        baseline=report.get("baseline"), verdict=gate["outputs"]["verdict"], report_dir=report_path.parent,
        created_at=evaluated["finished_at"],
        dataset={"md5": pointer_md5(ws.root), "content_hash": plan.content_hash},
        adapter={"path": outputs.get("artifact"), "uri": str(uri) if uri else None, "inputs": train["inputs"]},
        platform_owners=list(plan.project.owners),
        stages={"train": plan.train_inputs, "eval": plan.eval_inputs, "policies": plan.policies_hash})


def promote_stage(ws: Workspace, plan: Plan) -> PromoteOutcome:
    candidate = candidate_from_records(ws, plan)
    proposal = propose(ws.root, read_registry(ws.root), candidate)
    if isinstance(proposal, str):
        write_record(ws, "promote", plan.promote_inputs, {"skipped": proposal})
        return PromoteOutcome(None, proposal)
    forge = get_forge(ws.root, plan.project.forge, ws.state_dir)
    done = promote(forge, proposal, plan.project.forge.base_branch)
    outputs: dict[str, Any] = {"version": proposal.version, "branch": proposal.branch, "sha": done.push.sha,
                               "action": done.action, "forge": forge.name,
                               "pull_request": done.pull_request.number if done.pull_request else None}
    if done.push.blocked_by is None:  # a blocked branch is tried again by the next run
        write_record(ws, "promote", plan.promote_inputs, outputs)
    return PromoteOutcome(done, None)
