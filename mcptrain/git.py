"""The only module that runs git.

Promotion writes to a branch without touching the person's checkout: files become blobs,
a tree is built in a private index (`GIT_INDEX_FILE`), `commit-tree` makes the commit and
`update-ref` moves the branch only if it still points where we read it (so a push that
raced ours is never overwritten). Release tags are annotated, in GTO's grammar.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from mcptrain.errors import MCPTrainError

ZERO = "0" * 40


class GitError(MCPTrainError):
    """A git command failed; the message carries git's own words."""


@dataclass(frozen=True)
class Identity:
    name: str
    email: str

    def env(self) -> dict[str, str]:
        return {"GIT_AUTHOR_NAME": self.name, "GIT_AUTHOR_EMAIL": self.email,
                "GIT_COMMITTER_NAME": self.name, "GIT_COMMITTER_EMAIL": self.email}


@dataclass(frozen=True)
class Commit:
    sha: str
    author_email: str
    subject: str


def git(root: Path, *args: str, data: bytes | None = None, env: Mapping[str, str] | None = None,
        check: bool = True) -> str:
    """Run `git args` in `root`; its stdout (stripped). GitError with git's stderr on failure."""
    full = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C", **(env or {})}
    proc = subprocess.run(["git", *args], cwd=root, input=data, capture_output=True, env=full, timeout=600)
    if check and proc.returncode:
        words = proc.stderr.decode("utf-8", "replace").strip() or f"exit status {proc.returncode}"
        raise GitError(f"git {args[0]} failed in {root}: {words}")
    return proc.stdout.decode("utf-8", "replace").strip() if proc.returncode == 0 else ""


def is_repository(root: Path) -> bool:
    return bool(git(root, "rev-parse", "--is-inside-work-tree", check=False))


def resolve(root: Path, ref: str) -> str | None:
    """The commit `ref` names, or None when there is no such ref."""
    return git(root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False) or None


def read_file(root: Path, ref: str, path: str) -> bytes | None:
    """`path` as committed at `ref`, or None when it is not there."""
    full = {**os.environ, "LC_ALL": "C"}
    proc = subprocess.run(["git", "show", f"{ref}:{path}"], cwd=root, capture_output=True, env=full, timeout=60)
    return proc.stdout if proc.returncode == 0 else None


def tree_of(root: Path, commit: str) -> str:
    return git(root, "rev-parse", f"{commit}^{{tree}}")


def parent_of(root: Path, commit: str) -> str | None:
    return git(root, "rev-parse", "--verify", "--quiet", f"{commit}^", check=False) or None


def make_commit(root: Path, parent: str, files: Mapping[str, bytes | None], message: str,
                author: Identity) -> str:
    """A commit on `parent` whose tree is the parent's with `files` written (None: removed)."""
    with tempfile.TemporaryDirectory(prefix="mcptrain-index-") as tmp:
        env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
        git(root, "read-tree", parent, env=env)
        for path, content in sorted(files.items()):
            if content is None:
                git(root, "update-index", "--force-remove", "--", path, env=env)
                continue
            blob = git(root, "hash-object", "-w", "--stdin", data=content)
            git(root, "update-index", "--add", "--cacheinfo", f"100644,{blob},{path}", env=env)
        tree = git(root, "write-tree", env=env)
    return git(root, "commit-tree", tree, "-p", parent, data=message.encode("utf-8"), env=author.env())


def move_branch(root: Path, branch: str, new: str, old: str | None) -> None:
    """Point `branch` at `new`, only if it still points at `old` (None: it must not exist)."""
    git(root, "update-ref", "-m", "mcptrain: promote", f"refs/heads/{branch}", new, old or ZERO)


def commits_between(root: Path, base: str, tip: str) -> list[Commit]:
    """The commits on `tip` that `base` does not have, newest first."""
    text = git(root, "log", "--format=%H%x00%ae%x00%s", f"{base}..{tip}")
    return [Commit(*line.split("\0", 2)) for line in text.splitlines() if line]


def is_ancestor(root: Path, ancestor: str, commit: str) -> bool:
    full = {**os.environ, "LC_ALL": "C"}
    proc = subprocess.run(["git", "merge-base", "--is-ancestor", ancestor, commit], cwd=root,
                          capture_output=True, env=full, timeout=60)
    return proc.returncode == 0


def commit_paths(root: Path, paths: list[str], message: str, author: Identity) -> str:
    """Commit exactly `paths` of the working tree (nothing else staged is taken); the new HEAD."""
    git(root, "add", "--", *paths)
    git(root, "commit", "--quiet", "-m", message, "--", *paths, env=author.env())
    return git(root, "rev-parse", "HEAD")


def tag(root: Path, name: str, target: str, message: str, tagger: Identity) -> None:
    """An annotated tag `name` on `target` (GitError if it exists)."""
    git(root, "tag", "-a", name, target, "-m", message, env=tagger.env())


def tags(root: Path, pattern: str) -> list[str]:
    text = git(root, "tag", "--list", pattern)
    return [t for t in text.splitlines() if t]


def is_clean(root: Path, path: str) -> bool:
    """`path` has no staged or unstaged change against HEAD (or is untracked and absent)."""
    return not git(root, "status", "--porcelain", "--", path)


def tag_message(root: Path, name: str) -> str:
    return git(root, "tag", "--list", "--format=%(contents:subject)", name)


def root_commits(root: Path) -> list[str]:
    """The first commit(s) of the repository holding `root` (what identifies a repository
    across clones and runners); empty outside a git repository or before its first commit."""
    try:
        return sorted(git(root, "rev-list", "--max-parents=0", "HEAD", check=False).split())
    except (OSError, subprocess.TimeoutExpired):
        return []
