"""The GitHub forge: the real github3.py client against the GitHub REST emulator on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mcptrain.forge import ForgeError, get_forge
from mcptrain.forge.github import GitHubForge
from mcptrain.forge.github_session import Retry
from mcptrain.promotion.promote import Proposal, branch_for, promote, propose
from mcptrain.promotion.registry import empty_registry, parse_registry
from mcptrain.specs.models import ForgeSpec
from tests.forge.github_emulator import PERSON, GitHubEmulator
from tests.promotion.candidates import MODEL, candidate

TOKEN = "ghp_PLANTED0token0that0must0never0show0up"
BRANCH = branch_for(MODEL)
REPO = r"^/repos/acme/assistant"
SERVICES = {"payment-service": ["create_payment"], "support-service": ["open_ticket"]}


class Clock:
    """The injected clock and sleep: sleeping only moves the clock."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def gh() -> Iterator[GitHubEmulator]:
    with GitHubEmulator(token=TOKEN) as emulator:
        emulator.seed("main", {"README.md": b"# assistant\n", "specs/payment/service.yaml": b"kind: Service\n"})
        yield emulator


@pytest.fixture
def clock() -> Clock:
    return Clock()


def forge_for(gh: GitHubEmulator, clock: Clock, token: str = TOKEN, repository: str = "acme/assistant") -> GitHubForge:
    return GitHubForge(repository, token, api_url=gh.url, retry=Retry(sleep=clock.sleep, clock=lambda: clock.now))


@pytest.fixture
def forge(gh: GitHubEmulator, clock: Clock) -> GitHubForge:
    return forge_for(gh, clock)


def proposal(tmp: Path, **kwargs: object) -> Proposal:
    found = propose(tmp, empty_registry(), candidate(tmp, SERVICES, **kwargs))  # type: ignore[arg-type]
    assert isinstance(found, Proposal)
    return found


def test_promote_five_times_opens_one_pull_request_and_edits_it_only_when_it_changes(
        gh: GitHubEmulator, forge: GitHubForge, tmp_path: Path) -> None:
    p = proposal(tmp_path)
    actions = [promote(forge, p, "main").action for _ in range(5)]
    assert actions == ["opened", "unchanged", "unchanged", "unchanged", "unchanged"]
    assert list(gh.state.pulls) == [1]
    assert len(gh.calls("POST", r"/git/commits$")) == 1 and len(gh.calls("POST", r"/pulls$")) == 1
    assert gh.calls("PATCH", r"/pulls/1$") == [] and gh.calls("PATCH", r"/git/refs/") == []
    assert len(gh.calls("PUT", r"/issues/1/labels$")) == 1 and len(gh.calls("POST", r"/statuses/")) == 1
    pr = gh.state.pulls[1]
    assert (pr["head"], pr["base"], pr["title"], pr["labels"]) == (BRANCH, "main", p.title, ["mcptrain: ready"])
    assert pr["body"] == p.body and pr["body"].startswith(f"<!-- mcptrain:promote:{MODEL} -->\n")
    assert gh.state.labels["mcptrain: ready"]["color"] == "0e8a16"  # created with its colour, not grey
    tip = gh.state.refs[f"refs/heads/{BRANCH}"]
    commit = gh.state.commits[tip]
    assert commit["author"]["email"] == "mcptrain-bot@users.noreply.github.com"
    assert commit["parents"] == [gh.state.refs["refs/heads/main"]]
    assert [(s["context"], s["state"]) for s in gh.state.statuses[tip]] == [("mcptrain/gates", "success")]
    registry = parse_registry((gh.file(BRANCH, "models/registry.yaml") or b"").decode())
    assert registry.versions(MODEL)[0].version == "1.0.0"
    assert gh.file(BRANCH, f"models/{MODEL}/report.md") == b"# report\n"
    assert gh.file(BRANCH, "README.md") == b"# assistant\n"  # the base's files stay

    # A new evaluation changes the report and the verdict: one commit, one edit, a new status.
    changed = proposal(tmp_path, decision="blocked", failing=("support-service",), report="# report 2\n")
    done = promote(forge, changed, "main")
    assert (done.action, done.push.changed) == ("edited", True)
    assert len(gh.calls("PATCH", r"/pulls/1$")) == 1 and list(gh.state.pulls) == [1]
    new_tip = gh.state.refs[f"refs/heads/{BRANCH}"]
    assert gh.state.commits[new_tip]["parents"] == [gh.state.refs["refs/heads/main"]]  # rebuilt, not stacked
    assert gh.state.pulls[1]["labels"] == ["mcptrain: blocked"] and gh.state.pulls[1]["body"] == changed.body
    assert gh.state.statuses[new_tip][0]["state"] == "failure"
    assert forge.pull_request(1).statuses == {"mcptrain/gates": "failure"}


def test_a_person_s_commit_on_the_bot_branch_is_not_overwritten(
        gh: GitHubEmulator, forge: GitHubForge, tmp_path: Path) -> None:
    promote(forge, proposal(tmp_path), "main")
    human = gh.push(BRANCH, {"NOTES.md": b"a person's note\n"}, "a person's fix")
    body = gh.state.pulls[1]["body"]
    done = promote(forge, proposal(tmp_path, report="# report 2\n"), "main")
    assert (done.action, done.push.blocked_by, done.push.changed) == ("blocked", human, False)
    assert gh.state.refs[f"refs/heads/{BRANCH}"] == human and gh.state.pulls[1]["body"] == body
    assert gh.calls("PATCH", r"/git/refs/") == [] and len(gh.calls("POST", r"/git/commits$")) == 1
    assert done.pull_request is not None and done.pull_request.number == 1


def test_the_branch_is_rebuilt_on_a_base_that_moved(gh: GitHubEmulator, forge: GitHubForge, tmp_path: Path) -> None:
    p = proposal(tmp_path)
    first = promote(forge, p, "main").push.sha
    main = gh.push("main", {"specs/payment/service.yaml": b"kind: Service\nowners: [x]\n"}, "a spec change")
    done = promote(forge, p, "main")
    assert done.push.changed and done.push.sha != first and done.action == "unchanged"
    tip = gh.state.commits[done.push.sha]
    assert tip["parents"] == [main]
    assert gh.file(BRANCH, "specs/payment/service.yaml") == b"kind: Service\nowners: [x]\n"
    assert gh.calls("PATCH", r"/git/refs/heads/mcptrain/promote/")[0].body.endswith('"force": true}')
    assert gh.state.statuses[done.push.sha][0]["state"] == "success"  # the new head gets its status


def test_files_set_to_none_are_deleted_only_where_the_base_has_them(
        gh: GitHubEmulator, forge: GitHubForge) -> None:
    push = forge.push_files(BRANCH, "main", {"README.md": None, "never/was.txt": None, "new.txt": b"n\n"}, "m")
    assert push.changed
    assert gh.file(BRANCH, "README.md") is None and gh.file(BRANCH, "new.txt") == b"n\n"


def test_comments_are_posted_once_and_edited_by_marker(gh: GitHubEmulator, forge: GitHubForge, tmp_path: Path) -> None:
    promote(forge, proposal(tmp_path), "main")
    mark = "<!-- mcptrain:plan:x -->"
    assert forge.upsert_comment(1, mark, f"{mark}\nplan A") == "posted"
    assert forge.upsert_comment(1, mark, f"{mark}\nplan A") == "unchanged"
    assert forge.upsert_comment(1, mark, f"{mark}\nplan B") == "edited"
    assert [c.body for c in forge.comments(1)] == [f"{mark}\nplan B"]
    assert len(gh.calls("POST", r"/comments$")) == 1 and len(gh.calls("PATCH", r"/issues/comments/")) == 1


def test_a_merged_pull_request_reads_as_merged(gh: GitHubEmulator, forge: GitHubForge, tmp_path: Path) -> None:
    promote(forge, proposal(tmp_path), "main")
    gh.merge(1)
    assert [(p.number, p.state) for p in forge.pull_requests("merged")] == [(1, "merged")]
    assert forge.pull_requests("open") == [] and forge.find_pull_request(f"mcptrain:promote:{MODEL}") is None


# ---------------------------------------------------------------- faults
def test_a_502_is_retried_with_backoff(gh: GitHubEmulator, forge: GitHubForge, clock: Clock, tmp_path: Path) -> None:
    gh.fail("POST", r"/pulls$", 502, times=2)
    assert promote(forge, proposal(tmp_path), "main").action == "opened"
    assert clock.slept == [1.0, 2.0] and list(gh.state.pulls) == [1]


def test_a_secondary_rate_limit_waits_as_long_as_retry_after_says(
        gh: GitHubEmulator, forge: GitHubForge, clock: Clock, tmp_path: Path) -> None:
    gh.fail("POST", r"/git/blobs$", 403, headers={"Retry-After": "7"},
            message="You have exceeded a secondary rate limit. Please wait a few minutes before you try again.")
    assert promote(forge, proposal(tmp_path), "main").action == "opened"
    assert clock.slept == [7.0]


def test_a_spent_rate_limit_waits_until_its_reset(gh: GitHubEmulator, forge: GitHubForge, clock: Clock,
                                                  tmp_path: Path) -> None:
    reset = int(clock.now) + 30
    gh.fail("GET", r"/pulls$", 429, headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)})
    assert promote(forge, proposal(tmp_path), "main").action == "opened"
    assert clock.slept == [31.0]


def test_a_wait_longer_than_the_cap_is_reported_not_sat_out(gh: GitHubEmulator, forge: GitHubForge, clock: Clock,
                                                            tmp_path: Path) -> None:
    gh.fail("GET", r"/pulls$", 403, headers={"Retry-After": "3600"}, message="secondary rate limit")
    with pytest.raises(ForgeError) as e:
        promote(forge, proposal(tmp_path), "main")
    assert e.value.message == ("GitHub's rate limit stops GET /repos/acme/assistant/pulls for 3600s (until "
                               "09:00:00 UTC); mcptrain waits at most 60s")
    assert clock.slept == []


def test_a_5xx_that_persists_is_reported_after_the_last_attempt(
        gh: GitHubEmulator, forge: GitHubForge, clock: Clock, tmp_path: Path) -> None:
    gh.fail("POST", r"/pulls$", 502, times=10)
    with pytest.raises(ForgeError) as e:
        promote(forge, proposal(tmp_path), "main")
    assert e.value.message == (f"GitHub failed opening a pull request from {BRANCH} into main (502 Server Error; "
                               "POST /repos/acme/assistant/pulls) after 5 attempts")
    assert clock.slept == [1.0, 2.0, 4.0, 8.0]


def test_a_promote_interrupted_between_push_and_pull_request_is_finished_by_the_next_run(
        gh: GitHubEmulator, forge: GitHubForge, tmp_path: Path) -> None:
    gh.fail("POST", r"/pulls$", 503, times=5)
    p = proposal(tmp_path)
    with pytest.raises(ForgeError, match="503"):
        promote(forge, p, "main")
    tip = gh.state.refs[f"refs/heads/{BRANCH}"]
    assert gh.state.pulls == {}
    done = promote(forge, p, "main")
    assert (done.action, done.push.changed, done.push.sha) == ("opened", False, tip)
    assert len(gh.calls("POST", r"/git/commits$")) == 1 and list(gh.state.pulls) == [1]
    assert gh.state.statuses[tip][0]["state"] == "success"


def test_a_bad_token_is_named(gh: GitHubEmulator, clock: Clock, tmp_path: Path) -> None:
    with pytest.raises(ForgeError) as e:
        promote(forge_for(gh, clock, token="ghp_wrong"), proposal(tmp_path), "main")
    assert e.value.message == ("GitHub rejected the token in GITHUB_TOKEN while reading the repository "
                               "acme/assistant (401 Bad credentials)")
    assert e.value.hint is not None and "GITHUB_TOKEN" in e.value.hint


def test_a_missing_permission_is_named(gh: GitHubEmulator, forge: GitHubForge, tmp_path: Path) -> None:
    gh.fail("POST", r"/statuses/", 403)
    with pytest.raises(ForgeError) as e:
        promote(forge, proposal(tmp_path), "main")
    tip = gh.state.refs[f"refs/heads/{BRANCH}"]
    assert e.value.message == (f"GitHub refused setting the mcptrain/gates status of {tip[:12]} in acme/assistant: "
                               "the token lacks a permission (403 Resource not accessible by integration; "
                               f"POST /repos/acme/assistant/statuses/{tip})")
    assert e.value.hint is not None and "statuses: write" in e.value.hint


def test_a_missing_repository_is_named(gh: GitHubEmulator, clock: Clock, tmp_path: Path) -> None:
    with pytest.raises(ForgeError) as e:
        promote(forge_for(gh, clock, repository="acme/nothing"), proposal(tmp_path), "main")
    assert e.value.message == ("GitHub answered 404 Not Found while reading the repository acme/nothing: "
                               "acme/nothing or what it names does not exist, or the token cannot see it "
                               "(GET /repos/acme/nothing)")


def test_a_missing_base_branch_is_named(forge: GitHubForge, tmp_path: Path) -> None:
    with pytest.raises(ForgeError) as e:
        promote(forge, proposal(tmp_path), "trunk")
    assert e.value.message == "the base branch 'trunk' does not exist in acme/assistant on GitHub"


def test_a_pull_request_a_person_opened_from_the_bot_branch_is_reported(
        gh: GitHubEmulator, forge: GitHubForge, tmp_path: Path) -> None:
    p = proposal(tmp_path)
    forge.push_files(p.branch, "main", p.files, "m")
    forge.open_pull_request(head=BRANCH, base="main", title="mine", body="a person's pull request")
    with pytest.raises(ForgeError) as e:
        promote(forge, p, "main")
    assert e.value.message == (f"GitHub rejected opening a pull request from {BRANCH} into main as invalid "
                               f"(422 Validation Failed (A pull request already exists for acme:{BRANCH}.); "
                               "POST /repos/acme/assistant/pulls)")
    assert gh.state.pulls[1]["body"] == "a person's pull request"


def test_a_bot_branch_that_moved_during_the_push_is_not_overwritten(
        gh: GitHubEmulator, forge: GitHubForge, tmp_path: Path) -> None:
    promote(forge, proposal(tmp_path), "main")
    real = forge._foreign_commit

    def racing(base: str, tip: str) -> str | None:  # a person pushes right after mcptrain looked
        found = real(base, tip)
        gh.push(BRANCH, {"RACE.md": b"x\n"}, "raced")
        return found

    forge._foreign_commit = racing  # type: ignore[method-assign]
    with pytest.raises(ForgeError, match=f"{BRANCH} moved on GitHub while mcptrain was pushing"):
        promote(forge, proposal(tmp_path, report="# report 2\n"), "main")
    assert gh.file(BRANCH, "RACE.md") == b"x\n"


# ---------------------------------------------------------------- configuration
def test_get_forge_reads_the_token_and_repository_from_the_environment(
        gh: GitHubEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = ForgeSpec(kind="github", api_url=gh.url)
    with pytest.raises(ForgeError) as e:
        get_forge(tmp_path, spec, tmp_path / ".mcptrain")
    assert e.value.message == "forge.kind is github but GITHUB_TOKEN is not set"
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    monkeypatch.delenv("GITHUB_REPOSITORY", raising=False)
    with pytest.raises(ForgeError, match="no repository is named"):
        get_forge(tmp_path, spec, tmp_path / ".mcptrain")
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/assistant")
    forge = get_forge(tmp_path, spec, tmp_path / ".mcptrain")
    assert forge.name == "github" and forge.pull_requests("all") == []
    with pytest.raises(ForgeError, match="forge.repository must be 'owner/name'"):
        get_forge(tmp_path, ForgeSpec(kind="github", repository="assistant"), tmp_path / ".mcptrain")


def test_a_person_s_commit_is_any_commit_not_authored_by_the_bot(gh: GitHubEmulator, forge: GitHubForge) -> None:
    forge.push_files(BRANCH, "main", {"a.txt": b"1\n"}, "bot")
    ours = gh.push(BRANCH, {"b.txt": b"2\n"}, "bot again", author={"name": "mcptrain[bot]",
                                                                   "email": "mcptrain-bot@users.noreply.github.com"})
    assert forge.push_files(BRANCH, "main", {"a.txt": b"3\n"}, "bot").changed  # only the bot's commits
    person = gh.push(BRANCH, {"c.txt": b"3\n"}, "human", author=PERSON)
    assert forge.push_files(BRANCH, "main", {"a.txt": b"4\n"}, "bot").blocked_by == person
    assert ours != person
