"""The token in GITHUB_TOKEN goes on the wire and nowhere else: not in any output, log,
exception, pull request or file, whatever happens (tested by planting one and grepping)."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterator
from pathlib import Path

import pytest

from mcptrain.forge import ForgeError, get_forge
from mcptrain.forge.github import GitHubForge
from mcptrain.forge.github_session import Retry
from mcptrain.promotion.promote import Proposal, promote, propose
from mcptrain.promotion.registry import empty_registry
from mcptrain.specs.models import ForgeSpec
from tests.forge.github_emulator import GitHubEmulator
from tests.promotion.candidates import candidate

TOKEN = "ghp_PLANTEDxTOKENx0123456789abcdefXYZ"


@pytest.fixture
def gh(monkeypatch: pytest.MonkeyPatch) -> Iterator[GitHubEmulator]:
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/assistant")
    with GitHubEmulator(token=TOKEN) as emulator:
        emulator.seed("main", {"README.md": b"hi\n"})
        yield emulator


def proposal(tmp: Path, report: str = "# report\n", decision: str = "full") -> Proposal:
    found = propose(tmp, empty_registry(), candidate(tmp, {"payment-service": ["pay"]}, report=report,
                                                     decision=decision))
    assert isinstance(found, Proposal)
    return found


def test_a_planted_token_never_leaves_the_authorization_header(
        gh: GitHubEmulator, tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]) -> None:
    caplog.set_level(logging.DEBUG)  # github3, requests and urllib3 at their most talkative
    forge = get_forge(tmp_path, ForgeSpec(kind="github", api_url=gh.url), tmp_path / ".mcptrain")
    assert isinstance(forge, GitHubForge)
    forge.session.retry = Retry(sleep=lambda s: None)
    errors: list[str] = []

    def attempt(run: object) -> None:
        try:
            run()  # type: ignore[operator]
        except ForgeError as e:
            errors.append(e.format() + "".join(traceback.format_exception(e)))

    p = proposal(tmp_path)
    attempt(lambda: promote(forge, p, "main"))
    attempt(lambda: forge.upsert_comment(1, "<!-- c -->", "<!-- c -->\nplan"))
    # A server that echoes the token in its message, faults of every kind, a retry that gives up.
    gh.fail("PATCH", r"/pulls/1$", 422, message=f"token {TOKEN} is not allowed here")
    attempt(lambda: promote(forge, proposal(tmp_path, "# report 2\n", "blocked"), "main"))
    for status in (401, 403, 404, 502):
        gh.fail("GET", r"/pulls$", status, times=9, message=f"Bad {TOKEN}")
        attempt(lambda s=status: promote(forge, proposal(tmp_path, f"# report {s}\n"), "main"))  # type: ignore[misc]
        gh.faults.clear()
    gh.fail("GET", r"/pulls$", 403, headers={"Retry-After": "9999"}, message=TOKEN)
    attempt(lambda: promote(forge, p, "main"))
    attempt(lambda: GitHubForge("acme/assistant", TOKEN, api_url="http://127.0.0.1:9",  # nothing listens
                                retry=Retry(attempts=2, sleep=lambda s: None)).pull_requests())

    assert len(errors) == 7 and "token *** is not allowed" in errors[0]  # the echoed token was redacted
    assert all(r.headers["Authorization"] == f"token {TOKEN}" for r in gh.requests)  # it was sent, though
    out, err = capsys.readouterr()
    state = gh.state
    stored = [*(str(v) for v in state.pulls.values()), *(str(v) for v in state.comments.values()),
              *(c["message"] for c in state.commits.values()), *(b.decode() for b in state.blobs.values()),
              *(str(v) for v in state.statuses.values())]
    written = [f.read_text(errors="replace") for f in tmp_path.rglob("*") if f.is_file()]
    logs = [r.getMessage() for r in caplog.records] + [repr(r.args) for r in caplog.records]
    assert len(caplog.records) > 10 and len(stored) > 5
    haystack = {"errors": errors, "stdout": [out], "stderr": [err], "logs": logs, "github": stored,
                "files": written, "forge": [repr(forge), repr(vars(forge)), repr(forge.session.retry)]}
    leaks = {where: [t for t in texts if TOKEN in t or TOKEN[4:16] in t] for where, texts in haystack.items()}
    assert leaks == {where: [] for where in haystack}
