"""The plan `mcptrain plan` shows and `mcptrain reconcile` applies: one `Action` per stage.

`plan_changes` compares each stage's current inputs with its record (`records`) and says
what will run and why (the build's own action comes from `sources`, which ran or skipped
it); `train`, `evaluate` and `gate` apply it, one stage each. The commands
(`commands/plan.py`, `commands/reconcile.py`) only show the plan, ask, and print the results.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mcptrain.dataset.handle import open_dataset
from mcptrain.dataset.splits import GATED_SPLITS
from mcptrain.gates import apply_gates, retry_training
from mcptrain.git import is_repository
from mcptrain.promotion.promote import production_surface
from mcptrain.promotion.registry import production_summary, read_registry
from mcptrain.promotion.semver import Bump, next_version
from mcptrain.reconciler.production import Production, policies_hash, production_state
from mcptrain.reconciler.records import inputs_hash, read_record, up_to_date, write_record
from mcptrain.reconciler.sources import Facts
from mcptrain.reconciler.stages import (
    EvalOutcome,
    TrainOutcome,
    eval_inputs,
    eval_stage,
    train_inputs,
    train_stage,
)
from mcptrain.specs.models import GatePolicySpec, ProjectSpec, TrainingSpec
from mcptrain.workspace import Workspace

STAGES = ("build", "train", "eval", "gate", "promote")
RUN, UP_TO_DATE, SKIP = "run", "up to date", "skip"
DONE = (UP_TO_DATE, SKIP)  # actions that run nothing


@dataclass(frozen=True)
class Action:
    stage: str  # build | train | eval | gate | promote
    action: str  # run | up to date | skip
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"stage": self.stage, "action": self.action, "reason": self.reason}


@dataclass(frozen=True)
class Plan:
    actions: list[Action]
    project: ProjectSpec
    policies: list[GatePolicySpec]
    content_hash: str  # of the dataset the plan was made for
    data_changed: bool  # by the build that preceded the plan
    limit: int | None
    train_inputs: str
    eval_inputs: str
    gate_inputs: str
    gate_record: dict[str, Any] | None  # the gate's record when it is up to date
    attempt: int = 0  # the retry this plan trains (0: the first training of this dataset)
    service_thresholds: dict[str, float | None] | None = None  # each Service's own min_threshold
    critical: tuple[str, ...] = ()  # services marked critical: true
    production: dict[str, Any] | None = None  # the production version's metrics (the registry's)
    production_version: str | None = None
    promote_inputs: str = ""
    training_hash: str = ""  # of the rows training reads (train and validation)
    bump: Bump | None = None  # the version a promotion of these specs gets, and why
    policies_hash: str = ""  # the gate's policies and thresholds (the registry records the ones passed)
    in_git: Production | None = None  # what the registry's production entry says of these inputs

    @property
    def up_to_date(self) -> bool:
        return all(a.action in DONE for a in self.actions)

    @property
    def to_run(self) -> list[str]:
        return [a.stage for a in self.actions if a.action == RUN]

    def action(self, stage: str) -> Action:
        return next(a for a in self.actions if a.stage == stage)

    def stage_inputs(self) -> dict[str, str]:
        """The fingerprint of each stage's inputs, and of the data they read."""
        return {"dataset": self.content_hash, "train": self.train_inputs, "eval": self.eval_inputs,
                "gate": self.gate_inputs, "promote": self.promote_inputs}


def content_hash(ws: Workspace) -> str | None:
    """The built dataset's content hash, or None when there is none (yet)."""
    import json

    try:
        manifest = json.loads((ws.dataset_dir / "manifest.json").read_text(encoding="utf-8"))
        return str(manifest["content_hash"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def plan_changes(ws: Workspace, *, data_before: str | None, facts: Facts, build: Action,
                 limit: int | None = None) -> Plan:
    """What `reconcile` will run on the built dataset, and why. `facts` come from the specs
    (or, when the build was skipped, from its record); `build` says what the build did."""
    policies = facts.policies
    dataset = open_dataset(ws.root)
    attempt = retry_attempt(ws, dataset.content_hash)
    project = retried(ws.project, policies, attempt)
    train_in = train_inputs(project, dataset)
    eval_in = eval_inputs(dataset, train_in, GATED_SPLITS, True, limit, project, diagnostics=True)
    registry = read_registry(ws.root)
    live = registry.production(project.name)
    production = production_summary(live) if live is not None else None
    policies_in = policies_hash(facts)
    gate_in = inputs_hash({"eval": eval_in, "policies": [p.model_dump(mode="json") for p in policies],
                           "attempt": attempt, "services": {n: [facts.thresholds[n], n in facts.critical]
                                                            for n in sorted(facts.thresholds)},
                           "production": production})
    in_git = production_state(live, train=train_in, evaluate=eval_in, policies=policies_in)
    promote_in = inputs_hash({"gate": gate_in, "registry": registry.text(), "forge": project.forge.model_dump(),
                              "surface": facts.surface, "owners": project.owners})
    train_done = up_to_date(ws, "train", train_in, "artifact")
    eval_done = up_to_date(ws, "eval", eval_in, "report")
    gate_done = up_to_date(ws, "gate", gate_in)
    train_why = _train_reason(read_record(ws, "train"), dataset.training_hash)
    if attempt:
        train_why = f"retry {attempt} (the last gate verdict): {', '.join(f'{k}: {v}' for k, v in retry_training(policies, attempt).items())}"
    promote_done = gate_done is not None and up_to_date(ws, "promote", promote_in) is not None
    actions = [
        build,
        Action("train", "up to date" if train_done else "run", "inputs unchanged" if train_done else train_why),
        Action("eval", "up to date" if eval_done else "run",
               "inputs unchanged" if eval_done else "the candidate or the scored splits changed"),
        Action("gate", "up to date" if gate_done else "run",
               "inputs unchanged" if gate_done else "the evaluation, the gate policies or production changed"),
        _promote_action(ws, project, promote_done),
    ]
    if in_git is not None:
        actions = _from_git(actions, in_git, {s for s in STAGES if s != "build" and read_record(ws, s) is None})
        if in_git.matches:  # the candidate is production already: there is nothing to propose
            actions = [Action("promote", UP_TO_DATE, in_git.reason("promote")) if a.stage == "promote"
                       and a.action == RUN else a for a in actions]
    return Plan(actions, project, policies, dataset.content_hash, data_before != dataset.content_hash, limit,
                train_in, eval_in, gate_in, gate_done, attempt, facts.thresholds, facts.critical,
                production, live.version if live is not None else None, promote_in, dataset.training_hash,
                next_version(live.version if live else None,
                             production_surface(ws.root, project.name, live.version) if live else None,
                             facts.surface), policies_in, in_git)


def _from_git(actions: list[Action], live: Production, cold: set[str]) -> list[Action]:
    """Stages the cold local cache would run (no record at all: `cold`), answered by the
    registry's production entry. A stage whose record exists but moved runs as planned."""
    runs = {a.stage for a in actions if a.stage != "build" and a.action == RUN}
    if live.matches and runs <= cold:
        return [Action(a.stage, UP_TO_DATE, live.reason(a.stage)) if a.stage in runs else a for a in actions]
    if live.trained and "train" in runs & cold:
        return [Action("train", RUN, live.missing_adapter()) if a.stage == "train" and a.action == RUN else a
                for a in actions]
    return actions


def _promote_action(ws: Workspace, project: ProjectSpec, done: bool) -> Action:
    if project.forge.kind == "local" and not is_repository(ws.root):
        return Action("promote", SKIP, "not a git repository: the local forge commits the promotion "
                                       "branch into it (git init)")
    if done:
        return Action("promote", UP_TO_DATE, "inputs unchanged")
    return Action("promote", RUN, f"the {project.forge.kind} forge's promotion pull request "
                                  f"for {project.name} may change")


def retry_attempt(ws: Workspace, data: str) -> int:
    """The retry the next training is: the last gate's `retry` verdict asks for the next one;
    a retried model stays retried while the dataset is unchanged (so a second reconcile finds
    it up to date); a changed dataset starts again from the project's own settings."""
    record = read_record(ws, "gate")
    if record is None or record["outputs"].get("data") != data:
        return 0
    verdict = record["outputs"].get("verdict", {})
    if verdict.get("decision") == "retry" and verdict.get("retry"):
        return int(verdict["retry"]["attempt"])
    return int(verdict.get("attempt") or 0)


def retried(project: ProjectSpec, policies: list[GatePolicySpec], attempt: int) -> ProjectSpec:
    """The project with retry `attempt`'s `training:` adjustments (the policy's `retry_with`)."""
    overrides = retry_training(policies, attempt)
    if not overrides:
        return project
    training = TrainingSpec.model_validate({**project.training.model_dump(), **overrides})
    return project.model_copy(update={"training": training})


def train(ws: Workspace, plan: Plan, *, inline: bool, on_progress: Callable[[Any], None] | None,
          confirm: Callable[[dict[str, Any]], bool] | None = None) -> TrainOutcome:
    return train_stage(ws, plan.project, runner="inline" if inline else "ray", on_progress=on_progress,
                       confirm=confirm)


def eval_dir(ws: Workspace, trained: TrainOutcome) -> Path:
    return ws.eval_dir / trained.inputs[:12]


def evaluate(ws: Workspace, plan: Plan, trained: TrainOutcome,
             notify: Callable[[str], None] | None = None) -> EvalOutcome:
    return eval_stage(ws, plan.project, trained.artifact, artifact_inputs=trained.inputs,
                      out_dir=eval_dir(ws, trained), splits=GATED_SPLITS, baseline=True, limit=plan.limit,
                      notify=notify, diagnostics=True)


def gate(ws: Workspace, plan: Plan, evaluated: EvalOutcome) -> dict[str, Any]:
    """The gate verdict as recorded: `decision`, `reason`, `deployable_services`, `checks`."""
    if not plan.policies:
        decision: dict[str, Any] = {"decision": "blocked", "reason": "no gate policy",
                                    "deployable_services": [], "checks": []}
    else:
        # Regression and `overall_vs_production` against the registry's production version.
        decision = apply_gates(plan.policies, evaluated.summary, production=plan.production,
                               service_thresholds=plan.service_thresholds, critical=plan.critical,
                               attempt=plan.attempt).as_dict()
    outputs: dict[str, Any] = {"verdict": decision, "data": plan.content_hash, "production": plan.production_version,
               "eval": str(evaluated.out_dir.relative_to(ws.root))}
    previous = read_record(ws, "gate")
    # The same inputs gave the same verdict: the record stands, with when it was first reached.
    same = json.loads(json.dumps(outputs))  # as the record reads back
    if previous is None or previous.get("inputs") != plan.gate_inputs or previous.get("outputs") != same:
        write_record(ws, "gate", plan.gate_inputs, outputs)
    return decision


def _train_reason(previous: dict[str, Any] | None, data: str) -> str:
    if previous is None:
        return "never trained"
    if previous.get("outputs", {}).get("data") != data:
        return "the training or validation rows changed"
    return "the base model, backend or training settings changed (or the artifact is gone)"
