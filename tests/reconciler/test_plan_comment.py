"""`mcptrain plan --comment`: one comment per pull request through the forge, edited in place,
validation errors in it, secrets redacted."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcptrain.forge import get_forge
from mcptrain.reconciler.comment import pull_request_number
from mcptrain.redaction import REDACTED, redact
from mcptrain.workspace import Workspace
from tests.cli import mcptrain
from tests.reconciler.test_promote import git, repo  # noqa: F401  (fixture)

TOKEN = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"


def open_pull_request(root: Path) -> int:
    ws = Workspace(root)
    forge = get_forge(root, ws.project.forge, ws.state_dir)
    return forge.open_pull_request(head="payments-reword", base="main", title="payments: reword", body="").number


def comments(root: Path, number: int) -> list[str]:
    ws = Workspace(root)
    return [c.body for c in get_forge(root, ws.project.forge, ws.state_dir).comments(number)]


def test_one_comment_edited_in_place_on_every_push(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    number = open_pull_request(repo)
    code, out, err = mcptrain("plan", str(repo), "--comment", "--pr", str(number))
    assert code == 0, err
    assert f"mcptrain: plan comment posted on pull request #{number} (local forge): the plan" in err
    (body,) = comments(repo, number)
    assert body.startswith("<!-- mcptrain:plan:good-model -->\n### mcptrain plan for `good-model`\n")
    assert "**5 to run** (build, train, eval, gate, promote)" in body
    assert "| train | run | never trained |" in body and "**Version**: 1.0.0 (the first version)" in body
    assert "| `specs/payment/` |" in body

    mcptrain("plan", str(repo), "--comment", "--pr", str(number))  # the build is now up to date: edited
    code, _, err = mcptrain("plan", str(repo), "--comment", "--pr", str(number))
    assert code == 0 and "plan comment unchanged" in err
    assert len(comments(repo, number)) == 1
    # The next push: an example reworded. In GitHub Actions the pull request comes from GITHUB_REF.
    monkeypatch.setenv("GITHUB_REF", f"refs/pull/{number}/merge")
    charges = repo / "specs" / "payment" / "examples" / "charges.yaml"
    charges.write_text(charges.read_text().replace("Charge customer", "Please charge customer", 1))
    code, _, err = mcptrain("plan", str(repo), "--comment")
    assert code == 0 and "plan comment edited" in err
    (edited,) = comments(repo, number)
    assert "specs/payment/examples/charges.yaml changed" in edited


def test_validation_errors_are_the_comment_and_secrets_never_are(repo: Path,  # noqa: F811
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    number = open_pull_request(repo)
    charges = repo / "specs" / "payment" / "examples" / "charges.yaml"
    good = charges.read_text()
    charges.write_text(good.replace("invoice_id: INV-123}", f"{TOKEN}: INV-123}}", 1))  # pasted by mistake
    code, out, err = mcptrain("plan", str(repo), "--comment", "--pr", str(number), "--detailed-exitcode")
    assert code == 1
    assert TOKEN in err  # the author's own terminal shows what they wrote
    (body,) = comments(repo, number)
    assert "**The specs do not validate: 1 error; nothing can be planned until they are fixed.**" in body
    assert f"specs/payment/examples/charges.yaml:7:58: examples[0].call.create_payment.{REDACTED}: unknown argument " \
           f"'{REDACTED}'" in body
    assert TOKEN not in body
    charges.write_text(good)
    code, _, err = mcptrain("plan", str(repo), "--comment", "--pr", str(number))
    assert code == 0, err
    (body,) = comments(repo, number)  # the same comment, now the plan
    assert "| train | run |" in body and TOKEN not in body


def test_redaction() -> None:
    env = {"GITHUB_TOKEN": "s3cr3t-value", "HOME": "/home/someone", "DEBUG": "1"}
    assert redact("token s3cr3t-value in /home/someone", env) == f"token {REDACTED} in /home/someone"
    assert redact(f"pasted {TOKEN} and sk-proj-abcdefghijklmnopqrstuv1234 here", {}) == \
        f"pasted {REDACTED} and {REDACTED} here"


def test_the_pull_request_is_named_or_found() -> None:
    assert pull_request_number(7, {}) == 7
    assert pull_request_number(None, {"GITHUB_REF": "refs/pull/42/merge"}) == 42
    with pytest.raises(Exception, match="plan --comment needs the pull request to comment on"):
        pull_request_number(None, {"GITHUB_REF": "refs/heads/main"})


def test_on_github_through_the_rest_emulator(tiny_project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mcptrain.forge.github import GitHubForge
    from tests.forge.github_emulator import GitHubEmulator

    with GitHubEmulator(token=TOKEN) as gh:
        gh.seed("main", {"README.md": b"# assistant\n"})
        setup = GitHubForge("acme/assistant", TOKEN, api_url=gh.url)
        setup.push_files("payments-reword", "main", {"specs/payment/note.md": b"reworded\n"}, "reword")
        number = setup.open_pull_request(head="payments-reword", base="main", title="payments: reword", body="").number
        project = tiny_project / "mcptrain.yaml"
        project.write_text(project.read_text() + f"forge: {{kind: github, repository: acme/assistant, api_url: '{gh.url}'}}\n")
        monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
        monkeypatch.setenv("GITHUB_REF", f"refs/pull/{number}/merge")  # as GitHub Actions sets it
        outputs = []
        for expected in ("posted", "edited", "unchanged"):  # the second run finds the build up to date
            code, out, err = mcptrain("plan", str(tiny_project), "--comment", "--detailed-exitcode")
            assert code == 2, err
            assert f"plan comment {expected} on pull request #{number} (github forge)" in err
            outputs.append(out + err)
        (body,) = [c.body for c in setup.comments(number)]
        assert body.startswith("<!-- mcptrain:plan:good-model -->") and "| train | run | never trained |" in body
        assert not any(TOKEN in text for text in [*outputs, body])
