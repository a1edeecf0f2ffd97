"""Forges: where promotion branches are pushed and pull requests opened, behind one protocol.

`local` (the embedded default) commits to a branch of the repository itself and records
each pull request under `.mcptrain/forge/`; `github` (`github.py`) does the same through the
GitHub REST API (github3.py), with no clone. Nothing outside `FORGES` chooses a forge by name: `get_forge` looks it up.

The rules every forge keeps, and `sync_pull_request` / `push_files` rely on:

* **One branch, one pull request per purpose.** A pull request is found by a hidden
  marker in its body (`marker("promote", model)` is `<!-- mcptrain:promote:<model> -->`),
  never by its title, and updated in place; re-running never opens a duplicate.
* **No force-push over a person.** `push_files` writes files onto the bot branch: while
  every commit on it (beyond the base) is the bot's, the branch is rebuilt on the current
  base (like Renovate); once a person has pushed a commit there, nothing is pushed and
  `Push.blocked_by` names their commit.
* **Nothing changes when nothing changed**: no empty commit, no body edit, no label or
  status call whose value is already there.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from mcptrain.errors import MCPTrainError
from mcptrain.git import Identity
from mcptrain.specs.models import ForgeSpec

BOT = Identity("mcptrain[bot]", "mcptrain-bot@users.noreply.github.com")
STATUS_STATES = ("pending", "success", "failure", "error")


class ForgeError(MCPTrainError):
    """The forge refused or failed a request; the message names the cause (never a token)."""


@dataclass(frozen=True)
class PullRequest:
    number: int
    title: str
    body: str
    head: str  # the branch
    base: str
    state: str  # open | closed | merged
    labels: tuple[str, ...] = ()
    url: str = ""
    head_sha: str | None = None
    statuses: Mapping[str, str] = field(default_factory=dict)  # context -> state, on head_sha


@dataclass(frozen=True)
class Push:
    sha: str  # the branch's head after the call
    changed: bool  # a commit was pushed
    blocked_by: str | None = None  # a commit a person pushed: nothing was pushed over it


@dataclass(frozen=True)
class Comment:
    id: int
    body: str


class Forge(Protocol):
    """What promotion (and the reconciler's plan comments) need of a forge."""

    name: str

    def push_files(self, branch: str, base: str, files: Mapping[str, bytes | None], message: str) -> Push:
        """Commit `files` (None: delete) onto `branch` as the bot, started from `base` when new;
        never over a person's commit (see the module docstring)."""
        ...

    def find_pull_request(self, marker: str) -> PullRequest | None:
        """The open pull request whose body holds `marker`, if any."""
        ...

    def open_pull_request(self, *, head: str, base: str, title: str, body: str) -> PullRequest: ...

    def edit_pull_request(self, number: int, *, title: str, body: str) -> PullRequest: ...

    def set_labels(self, number: int, labels: Sequence[str]) -> None:
        """Make the pull request's labels exactly `labels`."""
        ...

    def set_status(self, sha: str, *, context: str, state: str, description: str) -> None:
        """A commit status (`state` in STATUS_STATES) that branch protection may require."""
        ...

    def upsert_comment(self, number: int, marker: str, body: str) -> str:
        """Post `body` (which must hold `marker`) or edit the comment holding `marker`;
        'posted', 'edited' or 'unchanged'."""
        ...

    def comments(self, number: int) -> list[Comment]: ...

    def pull_requests(self, state: str = "open") -> list[PullRequest]: ...

    def pull_request(self, number: int) -> PullRequest: ...


def marker(kind: str, name: str) -> str:
    """The hidden marker that identifies mcptrain's pull request or comment of `kind` for `name`."""
    return f"<!-- mcptrain:{kind}:{name} -->"


def sync_pull_request(forge: Forge, *, head: str, base: str, title: str, body: str,
                      mark: str) -> tuple[PullRequest, str]:
    """Find the pull request by `mark` and update it in place, or open it: ('opened' | 'edited'
    | 'unchanged'). `body` must hold `mark`."""
    if mark not in body:
        raise ValueError("the pull request body must hold its marker")
    found = forge.find_pull_request(mark)
    if found is None:
        return forge.open_pull_request(head=head, base=base, title=title, body=body), "opened"
    if found.title == title and found.body == body:
        return found, "unchanged"
    return forge.edit_pull_request(found.number, title=title, body=body), "edited"


def _local(root: Path, spec: ForgeSpec, state_dir: Path) -> Forge:
    from mcptrain.forge.local import LocalForge

    return LocalForge(root, state_dir / "forge")


def _github(root: Path, spec: ForgeSpec, state_dir: Path) -> Forge:
    from mcptrain.forge.github import github_forge  # github3 (requests) loads only when used

    return github_forge(spec.repository, spec.api_url)


FORGES: dict[str, Callable[[Path, ForgeSpec, Path], Forge]] = {"local": _local, "github": _github}


def get_forge(root: Path, spec: ForgeSpec, state_dir: Path) -> Forge:
    """The forge `spec.kind` names (ForgeSpec in mcptrain.yaml's `forge:`)."""
    return FORGES[spec.kind](root, spec, state_dir)
