"""A plan as a document: what `plan --json` prints and `plan --out FILE` saves, and the
checks `reconcile FILE` makes before applying exactly that plan (Terraform's saved plans).

The document names every input by its fingerprint: each spec file's bytes, the dataset
they compile to, each stage's inputs, and the state recorded when the plan was made. A
saved plan is applied only when all of them still hold; otherwise it is refused, naming
what moved, and a new plan must be made (a stale plan is never applied).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from mcptrain import __version__
from mcptrain.errors import MCPTrainError
from mcptrain.git import root_commits
from mcptrain.reconciler.plan import STAGES, Plan
from mcptrain.reconciler.records import read_record
from mcptrain.reconciler.sources import changed_files, grouped
from mcptrain.workspace import Workspace

PLAN_FORMAT = 1
NEW_PLAN = "make a new one: mcptrain plan --out FILE"


class StalePlanError(MCPTrainError):
    """A saved plan that cannot be applied as it is."""


def repository_identity(ws: Workspace) -> dict[str, Any]:
    """The project's name and its repository's first commit (the same in every clone);
    outside git, the folder itself."""
    commits = root_commits(ws.root)
    return {"project": ws.project.name,
            "root_commit": commits[0] if commits else None,
            "path": None if commits else str(ws.root.resolve())}


RECORDED = tuple(s for s in STAGES if s != "build")  # the build's record only caches the dataset


def recorded_state(ws: Workspace) -> dict[str, str | None]:
    """The inputs each stage's record says it last ran on (None: never ran)."""
    out: dict[str, str | None] = {}
    for stage in RECORDED:
        record = read_record(ws, stage)
        out[stage] = record["inputs"] if record is not None else None
    return out


def plan_document(ws: Workspace, plan: Plan, files: dict[str, str], recorded: dict[str, str | None]) -> dict[str, Any]:
    return {
        "format": PLAN_FORMAT,
        "mcptrain_version": __version__,
        "repository": repository_identity(ws),
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "changes": not plan.up_to_date,
        "actions": [a.as_dict() for a in plan.actions],
        "version": {**plan.bump.as_dict(), "production": plan.production_version} if plan.bump else None,
        "limit": plan.limit,
        "inputs": {"files": files, "groups": grouped(files), **plan.stage_inputs(),
                   "training_data": plan.training_hash},
        "recorded": recorded,
    }


def save_plan(path: Path, document: dict[str, Any]) -> None:
    from mcptrain.files import write_json

    write_json(path, document)


def load_plan(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise StalePlanError(f"{path}: cannot read the saved plan ({e.strerror})") from None
    except ValueError as e:
        raise StalePlanError(f"{path}: not a saved plan (not JSON: {e})", hint=NEW_PLAN) from None
    if not isinstance(data, dict) or data.get("format") != PLAN_FORMAT or "inputs" not in data:
        raise StalePlanError(f"{path}: not a saved plan of this mcptrain (format {data.get('format') if isinstance(data, dict) else None!r}, "
                             f"expected {PLAN_FORMAT})", hint=NEW_PLAN)
    return data


def check_origin(path: Path, document: dict[str, Any], ws: Workspace) -> None:
    """Refuse a plan made by another mcptrain, or for another repository."""
    made_by = document.get("mcptrain_version")
    if made_by != __version__:
        raise StalePlanError(f"{path} was made by mcptrain {made_by}; this is mcptrain {__version__}, "
                             "whose stages may compute different inputs", hint=NEW_PLAN + " with this version")
    theirs, mine = document.get("repository") or {}, repository_identity(ws)
    if theirs != mine:
        raise StalePlanError(f"{path} was made for {_describe(theirs)}; this is {_describe(mine)}",
                             hint=f"apply it in the repository it was made for, or {NEW_PLAN}")


def check_inputs(path: Path, document: dict[str, Any], ws: Workspace, files: dict[str, str]) -> None:
    """Refuse a plan when a spec file or a stage record moved since it was made."""
    moved = changed_files(document["inputs"]["files"], files)
    if moved:
        raise StalePlanError(f"{path} is stale: {_listed(moved)} since the plan was made "
                             f"({document.get('created_at')})", hint=NEW_PLAN)
    now = recorded_state(ws)
    differ = [stage for stage in RECORDED if (document.get("recorded") or {}).get(stage) != now[stage]]
    if differ:
        raise StalePlanError(f"{path} is stale: the recorded state of {_listed(differ)} changed since the plan "
                             f"was made ({ws.relative(ws.stages_dir)}; another reconcile ran)", hint=NEW_PLAN)


def check_same(path: Path, document: dict[str, Any], plan: Plan) -> None:
    """After the build: the dataset and every stage's inputs are the planned ones."""
    planned = document["inputs"]
    current = {**plan.stage_inputs(), "training_data": plan.training_hash}
    moved = [name for name in ("dataset", "training_data", "train", "eval", "gate", "promote") if planned.get(name) != current[name]]
    if moved:
        raise StalePlanError(f"{path} is stale: the fingerprint of {_listed(moved)} moved since the plan was made "
                             f"({planned.get(moved[0], '?')[:12]} then, {current[moved[0]][:12]} now)", hint=NEW_PLAN)
    # The build's own line may differ (the plan's refresh already wrote datasets/); what it
    # built may not, and the dataset's fingerprint above says so.
    if [a.as_dict() for a in plan.actions if a.stage != "build"] != [a for a in document["actions"] if a["stage"] != "build"]:
        raise StalePlanError(f"{path} is stale: the actions differ from the saved ones", hint=NEW_PLAN)


def _describe(identity: dict[str, Any]) -> str:
    where = (f"the repository whose first commit is {str(identity['root_commit'])[:12]}" if identity.get("root_commit")
             else f"the folder {identity.get('path')}")
    return f"project {identity.get('project')!r} in {where}"


def _listed(items: list[str]) -> str:
    return ", ".join(items) if len(items) <= 4 else f"{', '.join(items[:3])} and {len(items) - 3} more"
