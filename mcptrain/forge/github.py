"""The GitHub forge: the Forge protocol through the GitHub REST API (github3.py).

No local clone is needed: `push_files` writes blobs, one tree on the base commit's tree,
one commit authored by the bot, and moves the branch ref (the git data API). The branch
rules are the local forge's: while every commit on the branch beyond the base is the
bot's, the branch is rebuilt on the current base; once a person has pushed there, nothing
is pushed and `Push.blocked_by` names their commit. A tree identical to the branch's
(on the same base) pushes nothing. Pull requests are found by their hidden marker among
the open pull requests from the branch, and every call is skipped when its value is
already there.

The token comes from `GITHUB_TOKEN` alone and is never printed, logged or written; the
retries and the errors live in `github_session.py`.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import github3
from github3.exceptions import GitHubException, UnprocessableEntity

from mcptrain.forge import BOT, STATUS_STATES, Comment, ForgeError, PullRequest, Push
from mcptrain.forge.github_session import Retry, RetryingSession, forge_error

API_URL = "https://api.github.com"
LABEL_COLOURS = {"mcptrain: ready": "0e8a16", "mcptrain: partial": "fbca04", "mcptrain: blocked": "d93f0b"}


class GitHubForge:
    name = "github"

    def __init__(self, repository: str, token: str, api_url: str = API_URL, retry: Retry | None = None) -> None:
        owner, _, name = repository.partition("/")
        if not owner or not name or "/" in name:
            raise ForgeError(f"mcptrain.yaml: forge.repository must be 'owner/name' (got {repository!r})",
                             hint="forge: {kind: github, repository: acme/assistant}")
        self.owner, self.repo_name, self.repository = owner, name, repository
        self.session = RetryingSession(token, retry or Retry())
        self.session.base_url = api_url.rstrip("/")
        self.gh = github3.GitHub(session=self.session)
        self._repo: Any = None

    # -- branches
    def push_files(self, branch: str, base: str, files: Mapping[str, bytes | None], message: str) -> Push:
        repo = self._repository()
        base_sha = self._branch_sha(base)
        if base_sha is None:
            raise ForgeError(f"the base branch {base!r} does not exist in {self.repository} on GitHub",
                             hint="set forge.base_branch in mcptrain.yaml to the branch pull requests target")
        tip = self._branch_sha(branch)
        if tip is not None:
            foreign = self._foreign_commit(base_sha, tip)
            if foreign is not None:
                return Push(tip, False, blocked_by=foreign)
        with self._call(f"reading commit {base_sha[:12]}"):
            base_tree = repo.git_commit(base_sha).tree.sha
        tree = self._tree(base_tree, files)
        if tip is not None:
            with self._call(f"reading commit {tip[:12]}"):
                current = repo.git_commit(tip)
            if [p["sha"] for p in current.parents] == [base_sha] and current.tree.sha == tree:
                return Push(tip, False)
        author = {"name": BOT.name, "email": BOT.email}
        with self._call(f"committing to {branch}"):
            commit = repo.create_commit(message, tree, [base_sha], author=author, committer=author).sha
        self._move_branch(branch, commit, tip)
        return Push(commit, True)

    # -- pull requests
    def find_pull_request(self, marker: str) -> PullRequest | None:
        return next((p for p in self.pull_requests("open") if marker in p.body), None)

    def _open_from(self, head: str) -> list[PullRequest]:
        with self._call(f"listing the pull requests from {head}"):
            return [self._record(p, with_statuses=False) for p in
                    self._repository().pull_requests(state="open", head=f"{self.owner}:{head}")]

    def open_pull_request(self, *, head: str, base: str, title: str, body: str) -> PullRequest:
        repo = self._repository()
        try:
            with self._call(f"opening a pull request from {head} into {base}"):
                created = repo.create_pull(title, base, head, body)
        except ForgeError as e:
            # A retried request that GitHub had already carried out: the pull request is there.
            if isinstance(e.__cause__, UnprocessableEntity) and "already exists" in e.message:
                found = [p for p in self._open_from(head) if p.body == body and p.title == title]
                if found:
                    return found[0]
            raise
        return self.pull_request(created.number)

    def edit_pull_request(self, number: int, *, title: str, body: str) -> PullRequest:
        with self._call(f"editing pull request #{number}"):
            self._pull(number).update(title=title, body=body)
        return self.pull_request(number)

    def set_labels(self, number: int, labels: Sequence[str]) -> None:
        repo = self._repository()
        with self._call(f"reading the labels of #{number}"):
            issue = repo.issue(number)
            have = [label["name"] for label in issue.as_dict().get("labels", [])]
        if have == list(labels):
            return
        for label in labels:
            if label not in have and label in LABEL_COLOURS:
                self._ensure_label(label)
        with self._call(f"labelling pull request #{number}"):
            issue.replace_labels(list(labels))

    def set_status(self, sha: str, *, context: str, state: str, description: str) -> None:
        if state not in STATUS_STATES:
            raise ValueError(f"status state {state!r} is not one of {STATUS_STATES}")
        current = self._statuses(sha, full=True).get(context)
        if current == (state, description):
            return
        with self._call(f"setting the {context} status of {sha[:12]}"):
            self._repository().create_status(sha, state, description=description[:140], context=context)

    def upsert_comment(self, number: int, marker: str, body: str) -> str:
        if marker not in body:
            raise ValueError("a comment body must hold its marker")
        with self._call(f"reading the comments of #{number}"):
            found = next((c for c in self._pull(number).issue_comments() if marker in _text(c.body)), None)
        if found is not None and _text(found.body) == body:
            return "unchanged"
        with self._call(f"commenting on #{number}"):
            if found is not None:
                found.edit(body)
                return "edited"
            self._pull(number).create_comment(body)
        return "posted"

    def comments(self, number: int) -> list[Comment]:
        with self._call(f"reading the comments of #{number}"):
            return [Comment(int(c.id), _text(c.body)) for c in self._pull(number).issue_comments()]

    def pull_requests(self, state: str = "open") -> list[PullRequest]:
        asked = {"merged": "closed"}.get(state, state)
        with self._call("listing pull requests"):
            found = [self._record(p, with_statuses=False) for p in
                     self._repository().pull_requests(state=asked, sort="created", direction="asc")]
        return [p for p in found if state in ("all", p.state)]

    def pull_request(self, number: int) -> PullRequest:
        return self._record(self._pull(number), with_statuses=True)

    # -- helpers
    @contextmanager
    def _call(self, doing: str) -> Iterator[None]:
        try:
            yield
        except GitHubException as e:
            raise forge_error(e, doing, self.repository, self.session.redact) from e

    def _repository(self) -> Any:
        if self._repo is None:
            with self._call(f"reading the repository {self.repository}"):
                self._repo = self.gh.repository(self.owner, self.repo_name)
        return self._repo

    def _pull(self, number: int) -> Any:
        with self._call(f"reading pull request #{number}"):
            return self._repository().pull_request(number)

    def _branch_sha(self, branch: str) -> str | None:
        repo = self._repository()
        try:
            ref = repo.ref(f"heads/{branch}")
        except GitHubException as e:
            if getattr(e, "code", None) == 404:
                return None
            raise forge_error(e, f"reading the branch {branch}", self.repository, self.session.redact) from e
        return str(ref.object.sha)

    def _foreign_commit(self, base_sha: str, tip: str) -> str | None:
        """The newest commit on `tip` beyond `base_sha` that the bot did not author."""
        with self._call(f"comparing {base_sha[:12]}...{tip[:12]}"):
            compared = self._repository().compare_commits(base_sha, tip).as_dict()
        commits = compared.get("commits", [])
        if compared.get("total_commits", len(commits)) > len(commits):
            return tip  # more commits than GitHub lists: treat the branch as a person's
        for c in reversed(commits):  # GitHub lists them oldest first
            if c["commit"]["author"]["email"] != BOT.email:
                return str(c["sha"])
        return None

    def _tree(self, base_tree: str, files: Mapping[str, bytes | None]) -> str:
        repo = self._repository()
        entries: list[dict[str, Any]] = []
        deleted = sorted(p for p, c in files.items() if c is None)
        if deleted:
            with self._call("reading the base tree"):
                present = {h.path for h in repo.tree(base_tree, recursive=True).tree if h.type == "blob"}
            # Deleting a path the base does not have is a no-op (GitHub would refuse it).
            entries += [{"path": p, "mode": "100644", "type": "blob", "sha": None} for p in deleted if p in present]
        for path, content in sorted(files.items()):
            if content is not None:
                with self._call(f"uploading {path}"):
                    blob = repo.create_blob(base64.b64encode(content).decode("ascii"), "base64")
                entries.append({"path": path, "mode": "100644", "type": "blob", "sha": blob})
        if not entries:
            return base_tree
        with self._call("writing the tree"):
            return str(repo.create_tree(sorted(entries, key=lambda e: e["path"]), base_tree).sha)

    def _move_branch(self, branch: str, commit: str, tip: str | None) -> None:
        repo = self._repository()
        if tip is None:
            try:
                with self._call(f"creating the branch {branch}"):
                    repo.create_ref(f"refs/heads/{branch}", commit)
            except ForgeError as e:
                if isinstance(e.__cause__, UnprocessableEntity) and self._branch_sha(branch) == commit:
                    return  # a retried request GitHub had already carried out
                raise
            return
        # GitHub has no compare-and-swap for refs: read it again just before moving it, so a
        # push that raced ours is reported instead of overwritten.
        now = self._branch_sha(branch)
        if now != tip:
            raise ForgeError(f"{branch} moved on GitHub while mcptrain was pushing ({tip[:12]} -> "
                             f"{(now or 'deleted')[:12]}); nothing was overwritten", hint="run promote again")
        with self._call(f"moving {branch} to {commit[:12]}"):
            repo.ref(f"heads/{branch}").update(commit, force=True)

    def _ensure_label(self, name: str) -> None:
        repo = self._repository()
        try:
            repo.label(name)
        except GitHubException as e:
            if getattr(e, "code", None) != 404:
                raise forge_error(e, f"reading the label {name!r}", self.repository, self.session.redact) from e
            with self._call(f"creating the label {name!r}"):
                repo.create_label(name, LABEL_COLOURS[name], "Set by mcptrain promote from the gate verdict")

    def _statuses(self, sha: str, full: bool = False) -> dict[str, Any]:
        """context -> state (or (state, description) with `full`) of the newest status per context."""
        out: dict[str, Any] = {}
        with self._call(f"reading the statuses of {sha[:12]}"):
            for s in self._repository().statuses(sha):  # newest first
                out.setdefault(s.context, (s.state, s.description or "") if full else s.state)
        return out

    def _record(self, p: Any, *, with_statuses: bool) -> PullRequest:
        data = p.as_dict()
        state = "merged" if data.get("merged_at") else str(data["state"])
        head_sha = str(data["head"]["sha"])
        return PullRequest(int(data["number"]), str(data["title"]), _text(data.get("body")),
                           str(data["head"]["ref"]), str(data["base"]["ref"]), state,
                           tuple(label["name"] for label in data.get("labels", [])), str(data["html_url"]),
                           head_sha, self._statuses(head_sha) if with_statuses else {})


def _text(body: str | None) -> str:
    """A body as mcptrain wrote it: GitHub keeps what was sent, but an edit in the web editor
    turns newlines into CRLF."""
    return (body or "").replace("\r\n", "\n")


def github_forge(repository: str | None, api_url: str | None, retry: Retry | None = None) -> GitHubForge:
    """The forge `forge: {kind: github}` names: token from GITHUB_TOKEN, repository and API
    from mcptrain.yaml or the variables GitHub Actions sets."""
    token = os.environ.get("GITHUB_TOKEN", "")
    if not token:
        raise ForgeError("forge.kind is github but GITHUB_TOKEN is not set", hint=(
            "export GITHUB_TOKEN=<a token with contents, pull-requests and statuses write access>; "
            "in a workflow: `env: GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}`"))
    repository = repository or os.environ.get("GITHUB_REPOSITORY")
    if not repository:
        raise ForgeError("forge.kind is github but no repository is named",
                         hint="forge: {kind: github, repository: owner/name} in mcptrain.yaml "
                              "(GitHub Actions sets GITHUB_REPOSITORY)")
    return GitHubForge(repository, token, api_url or os.environ.get("GITHUB_API_URL") or API_URL, retry)
