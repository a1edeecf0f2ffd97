"""propose and promote without training: partial deployments, and a run that died half way."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from mcptrain.forge import ForgeError, PullRequest
from mcptrain.forge.local import LocalForge
from mcptrain.promotion.promote import Proposal, branch_for, promote, propose, surface_path
from mcptrain.promotion.registry import Registry, empty_registry, parse_registry
from tests.promotion.candidates import MODEL, candidate

SERVICES = {"payment-service": ["create_payment"], "support-service": ["open_ticket"],
            "billing-service": ["send_invoice"]}


def proposal(root: Path, registry: Registry, **kwargs: object) -> Proposal:
    found = propose(root, registry, candidate(root, SERVICES, **kwargs))  # type: ignore[arg-type]
    assert isinstance(found, Proposal), found
    return found


def released(root: Path, version: str = "1.0.0") -> Registry:
    """A registry whose production version is `version`, trained on SERVICES (its surface
    committed where promote reads it)."""
    first = proposal(root, empty_registry())
    registry = first.registry
    registry.release(MODEL, first.version, "2026-12-01T00:00:00+00:00")
    surface = root / surface_path(MODEL, version)
    surface.parent.mkdir(parents=True, exist_ok=True)
    surface.write_bytes(first.files[surface_path(MODEL, version)] or b"")
    return parse_registry(registry.text())


def test_a_first_partial_version_serves_only_the_services_that_pass(tmp_path: Path) -> None:
    p = proposal(tmp_path, empty_registry(), decision="partial", failing=("support-service",))
    entry = p.registry.find(MODEL, "1.0.0")
    assert entry is not None and entry.deployment is not None
    assert {name: (d.version, d.owners) for name, d in entry.deployment.items()} == {
        "billing-service": ("1.0.0", ["@acme/billing"]),
        "payment-service": ("1.0.0", ["@acme/payment"]),
        "support-service": (None, ["@acme/support"]),
    }
    assert (p.label, p.state) == ("mcptrain: partial", "success")
    assert "| support-service | nothing yet (keeps its current setup) | @acme/support |" in p.body
    assert "| payment-service | v1.0.0 | @acme/payment |" in p.body
    # The map survives the registry's round trip as a person would read it.
    again = parse_registry(p.registry.text()).find(MODEL, "1.0.0")
    assert again is not None and again.deployment == entry.deployment


def test_a_partial_version_over_production_leaves_the_failing_services_on_production(tmp_path: Path) -> None:
    registry = released(tmp_path)
    p = propose(tmp_path, registry, candidate(tmp_path, {**SERVICES, "payment-service": ["create_payment", "refund"]},
                                              decision="partial", failing=("billing-service", "support-service")))
    assert isinstance(p, Proposal)
    assert (p.previous, p.version, p.bump.level) == ("1.0.0", "1.1.0", "minor")
    entry = p.registry.find(MODEL, "1.1.0")
    assert entry is not None and entry.deployment is not None
    assert {name: d.version for name, d in entry.deployment.items()} == {
        "billing-service": "1.0.0", "payment-service": "1.1.0", "support-service": "1.0.0"}
    assert "| billing-service | v1.0.0 | @acme/billing |" in p.body
    assert "| payment-service | v1.1.0 | @acme/payment |" in p.body
    assert [v.status for v in p.registry.versions(MODEL)] == ["production", "candidate"]


@pytest.mark.parametrize("decision", ["full", "blocked"])
def test_only_a_partial_verdict_records_a_deployment_map(tmp_path: Path, decision: str) -> None:
    p = proposal(tmp_path, empty_registry(), decision=decision, failing=("support-service",))
    entry = p.registry.find(MODEL, "1.0.0")
    assert entry is not None and entry.deployment is None and "### Partial deployment" not in p.body
    assert entry.status == ("candidate" if decision == "full" else "rejected")


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True).stdout.strip()


class DiesBeforeThePullRequest(LocalForge):
    """A local forge whose process dies after the push, before the pull request is opened."""

    def open_pull_request(self, *, head: str, base: str, title: str, body: str) -> PullRequest:
        raise ForgeError("connection lost")


def test_a_promote_interrupted_between_push_and_pull_request_is_finished_by_the_next_run(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "README.md").write_text("hi\n")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "initial")
    p = proposal(tmp_path, empty_registry())
    with pytest.raises(ForgeError, match="connection lost"):
        promote(DiesBeforeThePullRequest(root, tmp_path / "forge"), p, "main")
    tip = git(root, "rev-parse", branch_for(MODEL))  # the branch was pushed
    assert not (tmp_path / "forge" / "pulls").exists()

    forge = LocalForge(root, tmp_path / "forge")
    done = promote(forge, p, "main")
    assert (done.action, done.push.changed, done.push.sha) == ("opened", False, tip)  # no second commit
    assert done.pull_request is not None and done.pull_request.head == branch_for(MODEL)
    assert forge.pull_request(1).labels == ("mcptrain: ready",)
    statuses = json.loads((tmp_path / "forge" / "statuses.json").read_text())
    assert statuses[tip]["mcptrain/gates"]["state"] == "success"
    assert promote(forge, p, "main").action == "unchanged"
    assert [pr.number for pr in forge.pull_requests("all")] == [1]
