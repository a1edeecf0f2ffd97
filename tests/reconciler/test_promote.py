"""The promote stage end to end: reconcile on the tiny model, the local forge, release."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from mcptrain.promotion.registry import parse_registry, read_registry
from tests.cli import mcptrain

MODEL = "good-model"
BRANCH = f"mcptrain/promote/{MODEL}"


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def repo(tiny_project: Path) -> Path:
    git(tiny_project, "init", "-q", "-b", "main")
    (tiny_project / ".gitignore").write_text("/.mcptrain/\n/datasets/\n")
    git(tiny_project, "add", "-A")
    git(tiny_project, "commit", "-qm", "initial")
    return tiny_project


def pulls(root: Path) -> list[dict[str, object]]:
    return [json.loads(p.read_text()) for p in sorted((root / ".mcptrain/forge/pulls").glob("*.json"))]


def test_reconcile_opens_one_pull_request_and_updates_it_only_when_it_changes(repo: Path) -> None:
    root = str(repo)
    head = git(repo, "rev-parse", "HEAD")
    code, out, err = mcptrain("reconcile", root, "--yes", "--inline")
    assert code == 0, err
    assert "5/5 promote" in out and "pull request #1 opened: mcptrain: promote good-model v1.0.0" in out, out
    assert "read it: mcptrain pr show 1" in out
    assert git(repo, "rev-parse", "HEAD") == head and git(repo, "status", "--porcelain") == ""  # checkout untouched
    (pr,) = pulls(repo)
    verdict = json.loads((repo / ".mcptrain/stages/gate.json").read_text())["outputs"]["verdict"]["decision"]
    assert pr["head"] == BRANCH and pr["state"] == "open"
    assert str(pr["body"]).startswith(f"<!-- mcptrain:promote:{MODEL} -->\n## {MODEL} v1.0.0 (the first version)")
    assert f"**Gate verdict: {verdict}**" in str(pr["body"])
    assert pr["labels"] == [{"full": "mcptrain: ready", "partial": "mcptrain: partial"}.get(verdict, "mcptrain: blocked")]
    tip = git(repo, "rev-parse", BRANCH)
    statuses = json.loads((repo / ".mcptrain/forge/statuses.json").read_text())
    assert statuses[tip]["mcptrain/gates"]["state"] == ("success" if verdict in ("full", "partial") else "failure")
    registry = parse_registry(git(repo, "show", f"{BRANCH}:models/registry.yaml"))
    (entry,) = registry.versions(MODEL)
    assert entry.version == "1.0.0" and entry.gate.decision == verdict
    assert entry.status == ("candidate" if verdict in ("full", "partial") else "rejected")
    assert entry.dataset.content_hash and entry.fingerprints.tools
    files = git(repo, "ls-tree", "-r", "--name-only", BRANCH).splitlines()
    assert {f"models/{MODEL}/report.md", f"models/{MODEL}/report.json",
            f"models/{MODEL}/surfaces/v1.0.0.json"} <= set(files)
    assert not any(f.startswith(".mcptrain") for f in files)  # the adapter is never committed
    assert git(repo, "log", "-1", "--format=%ae", BRANCH) == "mcptrain-bot@users.noreply.github.com"

    code, out, err = mcptrain("reconcile", root, "--yes", "--inline")
    assert code == 0 and "nothing to do" in out and "pull request #1 (v1.0.0) is up to date" in out, out
    for _ in range(3):
        code, out, err = mcptrain("promote", root)
        assert code == 0, err
        assert "pull request #1 unchanged" in out and "unchanged at" in out
    assert pulls(repo) == [pr] and git(repo, "rev-parse", BRANCH) == tip

    code, out, err = mcptrain("pr", "list", root, "--json")
    assert code == 0 and [(p["number"], p["state"], p["title"]) for p in json.loads(out)] == \
        [(1, "open", pr["title"])]
    code, out, err = mcptrain("pr", "show", "1", root)
    assert code == 0 and "Why v1.0.0" in out and "the first version of this model" in out


def test_a_person_s_commit_on_the_bot_branch_is_never_pushed_over(repo: Path) -> None:
    root = str(repo)
    assert mcptrain("reconcile", root, "--yes", "--inline")[0] == 0
    (body,) = [p["body"] for p in pulls(repo)]
    git(repo, "checkout", "-q", BRANCH)
    (repo / "NOTES.md").write_text("a person's note\n")
    git(repo, "add", "NOTES.md")
    git(repo, "commit", "-qm", "a person's commit")
    human = git(repo, "rev-parse", "HEAD")
    git(repo, "checkout", "-q", "main")
    project = repo / "mcptrain.yaml"
    project.write_text(project.read_text() + "owners: ['@acme/ml-platform']\n")  # the body would change
    code, out, err = mcptrain("promote", root)
    assert code == 0, err
    assert f"a person pushed {human[:12]} to {BRANCH}; mcptrain does not push over it" in err
    assert git(repo, "rev-parse", BRANCH) == human and [p["body"] for p in pulls(repo)] == [body]
    # Once the person's branch is gone, the bot starts it again from main.
    git(repo, "branch", "-D", BRANCH)
    code, out, err = mcptrain("promote", root)
    assert code == 0 and "pull request #1 updated in place" in out, out + err
    assert "@acme/ml-platform" in str(pulls(repo)[0]["body"])


PASS_ALL = """\
apiVersion: mcptrain/v1
kind: GatePolicy
name: default
min_overall_accuracy: 0.0
critical_min_accuracy: 0.0
max_regression: 1.0
overall_vs_production: ignore
"""


def passing(repo: Path) -> None:
    """Gates any tiny model passes (the tiny model's accuracy is whatever random weights give)."""
    (repo / "policies" / "default.yaml").write_text(PASS_ALL)
    scenarios = repo / "specs" / "payment" / "tests" / "critical.yaml"
    scenarios.write_text(scenarios.read_text().replace("    min_accuracy_required: 0.98\n", ""))
    service = repo / "specs" / "payment" / "service.yaml"
    service.write_text(service.read_text().replace("critical: true", "critical: false"))
    git(repo, "commit", "-qam", "permissive gates")


def test_a_blocked_candidate_is_rejected_and_cannot_be_released(repo: Path) -> None:
    policy = repo / "policies" / "default.yaml"
    policy.write_text(policy.read_text().replace("min_overall_accuracy: 0.5", "min_overall_accuracy: 1.0"))
    root = str(repo)
    assert mcptrain("reconcile", root, "--yes", "--inline")[0] == 0
    entry = parse_registry(git(repo, "show", f"{BRANCH}:models/registry.yaml")).versions(MODEL)[0]
    assert entry.status == "rejected" and "policy default: overall accuracy" in " ".join(entry.gate.failed_checks) \
        or entry.gate.decision == "catastrophic"
    (pr,) = pulls(repo)
    assert pr["labels"] == ["mcptrain: blocked"] and "cannot be merged" in str(pr["body"]).replace("\n> ", " ")
    code, _, err = mcptrain("release", root)
    assert code == 1 and "has no candidate to release" in err


def test_release_after_merge_makes_it_production_and_tags_it_in_gto_grammar(repo: Path) -> None:
    passing(repo)
    root = str(repo)
    assert mcptrain("reconcile", root, "--yes", "--inline")[0] == 0
    entry = parse_registry(git(repo, "show", f"{BRANCH}:models/registry.yaml")).versions(MODEL)[0]
    assert (entry.status, entry.gate.decision) == ("candidate", "full"), entry.gate
    assert pulls(repo)[0]["labels"] == ["mcptrain: ready"]
    git(repo, "merge", "-q", "--no-ff", "-m", "Merge the promotion", BRANCH)
    code, out, err = mcptrain("pr", "list", root, "--state", "merged")
    assert code == 0 and "#" in out and "merged" in out
    code, out, err = mcptrain("release", root)
    assert code == 0, err
    assert f"{MODEL} v1.0.0 is production" in out
    assert f"tagged {MODEL}@v1.0.0, {MODEL}#prod#1" in out
    assert read_registry(repo).production(MODEL).version == "1.0.0"  # type: ignore[union-attr]
    assert git(repo, "cat-file", "-t", f"{MODEL}@v1.0.0") == "tag"  # annotated
    assert git(repo, "status", "--porcelain") == ""
    code, out, err = mcptrain("release", root)
    assert code == 0 and "already production" in out and "nothing to do" in out
    code, out, err = mcptrain("version", root)
    assert "no change since production v1.0.0" in out
    code, out, err = mcptrain("registry", "history", root, "--json")
    (item,) = json.loads(out)
    assert (item["version"], item["status"], item["tags"]) == ("1.0.0", "production", [f"{MODEL}@v1.0.0"])
    # The gates now measure regression against production; nothing new to promote.
    code, out, err = mcptrain("reconcile", root, "--yes", "--inline")
    assert code == 0, err
    assert "nothing to promote: the candidate is production v1.0.0" in out, out
    gate = json.loads((repo / ".mcptrain/stages/gate.json").read_text())["outputs"]["verdict"]
    assert any(c["check"].startswith("regression ") for c in gate["checks"])


GITHUB_TOKEN = "ghp_PLANTEDe2eTOKEN0123456789abcdefABCD"


def test_reconcile_on_the_github_forge_opens_the_pull_request_and_never_shows_the_token(
        repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.forge.github_emulator import GitHubEmulator

    project = repo / "mcptrain.yaml"
    with GitHubEmulator(token=GITHUB_TOKEN) as gh:
        gh.seed("main", {"README.md": b"the organisation's repository\n"})
        project.write_text(project.read_text() + f"forge: {{kind: github, repository: acme/assistant, "
                                                  f"api_url: '{gh.url}'}}\n")
        git(repo, "commit", "-qam", "promote on GitHub")
        monkeypatch.setenv("GITHUB_TOKEN", GITHUB_TOKEN)
        code, out, err = mcptrain("reconcile", str(repo), "--yes", "--inline")
        assert code == 0, err
        assert f"pull request #1 opened: mcptrain: promote {MODEL} v1.0.0" in out
        assert "(https://github.com/acme/assistant/pull/1)" in out
        runs = [(out, err), mcptrain("promote", str(repo))[1:], mcptrain("pr", "list", str(repo))[1:],
                mcptrain("pr", "show", "1", str(repo))[1:]]
        assert "pull request #1 unchanged" in runs[1][0] and "mcptrain pr show 1" in runs[2][0]
        assert "Why v1.0.0" in runs[3][0]
        gh.fail("GET", r"/pulls$", 401, message=f"Bad credentials: {GITHUB_TOKEN}")
        runs.append(mcptrain("pr", "list", str(repo))[1:])
        assert "GitHub rejected the token in GITHUB_TOKEN" in runs[-1][1]
        assert list(gh.state.pulls) == [1] and gh.state.pulls[1]["head"] == BRANCH
        assert gh.file(BRANCH, f"models/{MODEL}/report.md") == (repo / ".mcptrain").joinpath(
            *json.loads((repo / ".mcptrain/stages/eval.json").read_text())["outputs"]["report"].split("/")[1:]
        ).parent.joinpath("report.md").read_bytes()
        texts = [t for pair in runs for t in pair] + [str(p) for p in gh.state.pulls.values()]
        texts += [f.read_text(errors="replace") for f in repo.rglob("*") if f.is_file() and ".git/" not in str(f)]
        texts += [b.decode(errors="replace") for b in gh.state.blobs.values()]
        assert [t[:80] for t in texts if GITHUB_TOKEN in t] == []
