"""The local forge: branches in the repository itself, pull requests recorded as JSON.

The embedded default (no account, no network): `push_files` commits to a branch of the
repository without touching the checkout, and each pull request is a file
`.mcptrain/forge/pulls/<number>.json` (number, title, body, branch, labels, state,
comments); commit statuses go to `.mcptrain/forge/statuses.json`. `mcptrain pr list` /
`mcptrain pr show N` read them. A pull request whose branch has been merged into its base
(`git merge mcptrain/promote/<model>`) reads as merged; then `mcptrain release`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mcptrain import git
from mcptrain.files import write_json
from mcptrain.forge import BOT, STATUS_STATES, Comment, ForgeError, PullRequest, Push


class LocalForge:
    name = "local"

    def __init__(self, root: Path, folder: Path) -> None:
        self.root = root
        self.folder = folder

    # -- branches
    def push_files(self, branch: str, base: str, files: Mapping[str, bytes | None], message: str) -> Push:
        if not git.is_repository(self.root):
            raise ForgeError(f"{self.root} is not a git repository; the local forge commits promotion "
                             "branches into it", hint="git init && git add -A && git commit -m 'initial'")
        base_sha = git.resolve(self.root, f"refs/heads/{base}")
        if base_sha is None:
            raise ForgeError(f"the base branch {base!r} does not exist in {self.root}",
                             hint="set forge.base_branch in mcptrain.yaml to the branch pull requests target")
        return push_onto(self.root, branch, base_sha, files, message)

    # -- pull requests
    def find_pull_request(self, marker: str) -> PullRequest | None:
        return next((p for p in self.pull_requests("open") if marker in p.body), None)

    def open_pull_request(self, *, head: str, base: str, title: str, body: str) -> PullRequest:
        numbers = [int(p.stem) for p in self._pulls().glob("*.json") if p.stem.isdigit()]
        number = max(numbers, default=0) + 1
        now = _now()
        self._write(number, {"number": number, "title": title, "body": body, "head": head, "base": base,
                             "state": "open", "labels": [], "comments": [], "created_at": now,
                             "updated_at": now})
        return self.pull_request(number)

    def edit_pull_request(self, number: int, *, title: str, body: str) -> PullRequest:
        record = self._read(number)
        record.update(title=title, body=body, updated_at=_now())
        self._write(number, record)
        return self.pull_request(number)

    def set_labels(self, number: int, labels: Sequence[str]) -> None:
        record = self._read(number)
        if record["labels"] != list(labels):
            record["labels"] = list(labels)
            self._write(number, record)

    def set_status(self, sha: str, *, context: str, state: str, description: str) -> None:
        if state not in STATUS_STATES:
            raise ValueError(f"status state {state!r} is not one of {STATUS_STATES}")
        statuses = self._statuses()
        wanted = {"state": state, "description": description}
        if statuses.get(sha, {}).get(context) != wanted:
            statuses.setdefault(sha, {})[context] = wanted
            write_json(self.folder / "statuses.json", statuses)

    def upsert_comment(self, number: int, marker: str, body: str) -> str:
        if marker not in body:
            raise ValueError("a comment body must hold its marker")
        record = self._read(number)
        for comment in record["comments"]:
            if marker in comment["body"]:
                if comment["body"] == body:
                    return "unchanged"
                comment["body"] = body
                self._write(number, record)
                return "edited"
        record["comments"].append({"id": len(record["comments"]) + 1, "body": body})
        self._write(number, record)
        return "posted"

    def comments(self, number: int) -> list[Comment]:
        return [Comment(int(c["id"]), str(c["body"])) for c in self._read(number)["comments"]]

    def pull_requests(self, state: str = "open") -> list[PullRequest]:
        found = [self.pull_request(int(p.stem)) for p in sorted(self._pulls().glob("*.json"),
                                                                   key=lambda p: int(p.stem)) if p.stem.isdigit()]
        return [p for p in found if state == "all" or p.state == state]

    def pull_request(self, number: int) -> PullRequest:
        record = self._read(number)
        head_sha = git.resolve(self.root, f"refs/heads/{record['head']}")
        base_sha = git.resolve(self.root, f"refs/heads/{record['base']}")
        state = record["state"]
        if state == "open" and head_sha and base_sha and head_sha != base_sha \
                and git.is_ancestor(self.root, head_sha, base_sha):
            state = "merged"
        statuses = {c: s["state"] for c, s in self._statuses().get(head_sha or "", {}).items()}
        return PullRequest(number, record["title"], record["body"], record["head"], record["base"], state,
                           tuple(record["labels"]), str(self.folder / "pulls" / f"{number}.json"), head_sha,
                           statuses)

    # -- storage
    def _pulls(self) -> Path:
        return self.folder / "pulls"

    def _read(self, number: int) -> dict[str, Any]:
        path = self._pulls() / f"{number}.json"
        try:
            data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ForgeError(f"no pull request #{number} on the local forge ({self._pulls()})",
                             hint="mcptrain pr list") from None
        return data

    def _write(self, number: int, record: dict[str, Any]) -> None:
        write_json(self._pulls() / f"{number}.json", record)

    def _statuses(self) -> dict[str, dict[str, dict[str, str]]]:
        try:
            data: dict[str, dict[str, dict[str, str]]] = json.loads(
                (self.folder / "statuses.json").read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        return data


def push_onto(root: Path, branch: str, base_sha: str, files: Mapping[str, bytes | None], message: str) -> Push:
    """The branch rules of `Forge.push_files`, in a local repository."""
    tip = git.resolve(root, f"refs/heads/{branch}")
    if tip is not None:
        foreign = [c for c in git.commits_between(root, base_sha, tip) if c.author_email != BOT.email]
        if foreign:
            return Push(tip, False, blocked_by=foreign[0].sha)
    commit = git.make_commit(root, base_sha, files, message, BOT)
    if tip is not None and git.parent_of(root, tip) == base_sha \
            and git.tree_of(root, tip) == git.tree_of(root, commit):
        return Push(tip, False)
    git.move_branch(root, branch, commit, tip)
    return Push(commit, True)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
