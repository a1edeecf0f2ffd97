"""Promote a gated candidate: its registry entry, its report and one pull request per model.

`propose` turns a `Candidate` (what the reconciler's records say was trained, evaluated and
gated) into a `Proposal`: the next version and why, the registry with the candidate's entry,
the files for the bot branch, the pull request's title, body, label and status. `promote`
puts a proposal on a `Forge`: it pushes the branch `mcptrain/promote/<model>` (never over a
person's commit), finds the pull request by its marker or opens it, and sets the label and
the `mcptrain/gates` commit status — each only when it differs from what is there.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcptrain.errors import ConfigError
from mcptrain.fingerprint import sha256_json
from mcptrain.forge import Forge, PullRequest, Push, marker, sync_pull_request
from mcptrain.promotion.body import TITLE, accuracy_tables, render_body
from mcptrain.promotion.registry import REGISTRY_FILE, Registry, metrics_of, production_summary
from mcptrain.promotion.semver import Bump, next_version
from mcptrain.promotion.surface import data_diff, tool_fingerprints

STATUS_CONTEXT = "mcptrain/gates"
LABELS = {"full": "mcptrain: ready", "partial": "mcptrain: partial", "blocked": "mcptrain: blocked",
          "catastrophic": "mcptrain: blocked"}
SHIPS = ("full", "partial")
REPORT_FILES = ("report.md", "report.json", "accuracy.png")


def branch_for(model: str) -> str:
    return f"mcptrain/promote/{model}"


def model_folder(model: str) -> str:
    return f"models/{model}"


def surface_path(model: str, version: str) -> str:
    return f"{model_folder(model)}/surfaces/v{version}.json"


@dataclass(frozen=True)
class Candidate:
    """A gated candidate, as the reconciler's records describe it."""

    model: str
    surface: dict[str, Any]  # promotion.surface.capture_surface of the specs it was trained on
    summary: dict[str, Any]  # the candidate's evaluation summary
    baseline: dict[str, Any] | None
    verdict: dict[str, Any]  # the gate record's verdict
    report_dir: Path
    created_at: str
    dataset: dict[str, Any]  # {md5, content_hash}
    adapter: dict[str, Any]  # {path, uri, inputs}
    platform_owners: list[str] = field(default_factory=list)
    stages: dict[str, str] = field(default_factory=dict)  # train / eval inputs, gate policies (the plan's)


@dataclass(frozen=True)
class Proposal:
    model: str
    bump: Bump
    previous: str | None
    registry: Registry
    files: dict[str, bytes | None]
    title: str
    body: str
    label: str
    state: str  # success | failure
    description: str
    branch: str

    @property
    def version(self) -> str:
        return self.bump.version

    @property
    def marker(self) -> str:
        return marker("promote", self.model)


@dataclass(frozen=True)
class Promoted:
    proposal: Proposal
    push: Push
    pull_request: PullRequest | None
    action: str  # opened | edited | unchanged | blocked


def propose(root: Path, registry: Registry, candidate: Candidate) -> Proposal | str:
    """The proposal for `candidate`, or why there is nothing to promote."""
    decision = candidate.verdict["decision"]
    if decision == "retry":
        return "the gate verdict is retry: the next reconcile retrains before anything is promoted"
    production = registry.production(candidate.model)
    before = production_surface(root, candidate.model, production.version) if production else None
    bump = next_version(production.version if production else None, before, candidate.surface)
    if bump.level is None:
        return f"the candidate is production v{bump.version}: the same tools, data and settings"
    status = "candidate" if decision in SHIPS else "rejected"
    entry = _entry(candidate, bump, production.version if production else None, status)
    replaced = registry.put_candidate(candidate.model, entry)
    folder = model_folder(candidate.model)
    files: dict[str, bytes | None] = {REGISTRY_FILE: registry.text().encode("utf-8")}
    for name in REPORT_FILES:
        path = candidate.report_dir / name
        files[f"{folder}/{name}"] = path.read_bytes() if path.is_file() else None
    files[surface_path(candidate.model, bump.version)] = \
        (json.dumps(candidate.surface, indent=2, sort_keys=True) + "\n").encode("utf-8")
    for old in replaced:
        if old != bump.version:
            files[surface_path(candidate.model, old)] = None
    context = _context(candidate, bump, production, before, entry, status)
    return Proposal(candidate.model, bump, production.version if production else None, registry, files,
                    TITLE.format(model=candidate.model, version=bump.version, verdict=decision),
                    render_body(context), LABELS[decision], "success" if decision in SHIPS else "failure",
                    _short(candidate.verdict["reason"]), branch_for(candidate.model))


def promote(forge: Forge, proposal: Proposal, base: str) -> Promoted:
    """Put `proposal` on `forge`: the branch, the pull request, its label and status."""
    message = f"mcptrain: {proposal.model} v{proposal.version} ({proposal.bump.level})\n\n" + \
        "\n".join(f"- {r.level}: {r.text}" for r in proposal.bump.reasons) + "\n"
    push = forge.push_files(proposal.branch, base, proposal.files, message)
    if push.blocked_by is not None:
        return Promoted(proposal, push, forge.find_pull_request(proposal.marker), "blocked")
    pr, action = sync_pull_request(forge, head=proposal.branch, base=base, title=proposal.title,
                                   body=proposal.body, mark=proposal.marker)
    keep = [label for label in pr.labels if not label.startswith("mcptrain:")]
    if list(pr.labels) != [*keep, proposal.label]:
        forge.set_labels(pr.number, [*keep, proposal.label])
    if pr.statuses.get(STATUS_CONTEXT) != proposal.state or pr.head_sha != push.sha:
        forge.set_status(push.sha, context=STATUS_CONTEXT, state=proposal.state, description=proposal.description)
    return Promoted(proposal, push, pr, action)


def production_surface(root: Path, model: str, version: str) -> dict[str, Any]:
    path = root / surface_path(model, version)
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{REGISTRY_FILE}: production version {version} of {model} has no surface "
                          f"({surface_path(model, version)}), so the next version cannot be computed",
                          hint=f"restore it from git: git checkout {model}@v{version} -- "
                               f"{surface_path(model, version)}") from None
    except ValueError as e:
        raise ConfigError(f"{surface_path(model, version)}: not valid JSON ({e})") from None
    return data


def _entry(c: Candidate, bump: Bump, previous: str | None, status: str) -> dict[str, Any]:
    verdict = c.verdict
    failed = [f"{k['policy']}: {k['check']}" + (f" ({k['detail']})" if k.get("detail") else "")
              for k in verdict.get("checks", []) if not k["passed"]]
    entry: dict[str, Any] = {
        "version": bump.version, "status": status, "created_at": c.created_at,
        "base_model": c.surface["base_model"], "backend": c.surface["backend"],
        "dataset": c.dataset,
        "fingerprints": {"specs": sha256_json(c.surface), "tools": tool_fingerprints(c.surface),
                         **({"stages": c.stages} if c.stages else {})},
        "hyperparameters": c.surface["training"],
        "metrics": metrics_of(c.summary),
        "baseline": metrics_of(c.baseline) if c.baseline else None,
        "gate": {"decision": verdict["decision"], "reason": verdict["reason"], "failed_checks": failed},
        "adapter": {k: v for k, v in c.adapter.items() if v is not None},
        "bump": {"level": bump.level, "previous": previous, "reasons": [r.text for r in bump.reasons]},
    }
    if verdict["decision"] == "partial":
        entry["deployment"] = deployment_map(c, bump.version, previous)
    return {k: v for k, v in entry.items() if v is not None}


def deployment_map(c: Candidate, version: str, previous: str | None) -> dict[str, Any]:
    """Each service: the new version when it passed the gates, else the production one."""
    ships = set(c.verdict.get("deployable_services", []))
    return {name: {"version": version if name in ships else previous, "owners": s.get("owners", [])}
            for name, s in sorted(c.surface["services"].items())}


def _context(c: Candidate, bump: Bump, production: Any, before: dict[str, Any] | None,
             entry: dict[str, Any], status: str) -> dict[str, Any]:
    checks = c.verdict.get("checks", [])
    touched = {r.text.split(":")[0] for r in bump.reasons} | set(c.verdict.get("failing_services", []))
    owners = list(c.platform_owners)
    for name, s in sorted(c.surface["services"].items()):
        if production is None or name in touched:
            owners += [o for o in s.get("owners", []) if o not in owners]
    adapter = c.adapter.get("uri") or c.adapter.get("path") or "no adapter (the prompt backend trains none)"
    return {
        "marker": marker("promote", c.model), "model": c.model, "version": bump.version, "level": bump.level,
        "previous": production.version if production else None, "verdict": c.verdict, "reasons": bump.reasons,
        "data_diff": data_diff(before, c.surface),
        "tables": accuracy_tables(c.summary, c.baseline, production_summary(production) if production else None),
        "failed": [k for k in checks if not k["passed"]], "checks": len(checks),
        "deployment": entry.get("deployment"), "registry_file": REGISTRY_FILE, "status": status,
        "folder": model_folder(c.model), "chart": (c.report_dir / "accuracy.png").is_file(),
        "adapter": f"`{adapter}`", "owners": owners, "branch": branch_for(c.model),
    }


def _short(text: str) -> str:
    return text if len(text) <= 140 else text[:137] + "..."
