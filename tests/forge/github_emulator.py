"""A stateful GitHub REST emulator on 127.0.0.1, for driving the real github3.py client.

One repository, kept in memory: git data (blobs, trees, commits, annotated tags — content
addressed, so the same tree gets the same sha), refs, contents, pull requests (list with
the `head` filter, create, edit), issue comments, labels, commit statuses. Payloads carry
the fields github3.py reads, and the validation GitHub does where mcptrain depends on it:
422 for a pull request that already exists, a branch that already exists, a ref update
that is not a fast-forward without `force`, a deletion of a path the base tree lacks.

Faults are injected per request (`fail(...)`): a status with headers and a message, for
the next `times` requests whose method and path match. Every request is logged
(`requests`), with the headers it carried, so tests can count calls and grep for tokens.

    with GitHubEmulator(token="t0k3n") as gh:
        gh.seed("main", {"README.md": b"hi"})
        forge = GitHubForge("acme/assistant", "t0k3n", api_url=gh.url)
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

NOW = "2026-12-03T10:00:00Z"
PERSON = {"name": "A Person", "email": "person@example.com"}


@dataclass
class Fault:
    method: str
    path: re.Pattern[str]
    status: int
    headers: dict[str, str]
    message: str
    times: int


@dataclass
class Logged:
    method: str
    path: str
    status: int
    headers: dict[str, str]
    body: str


@dataclass
class State:
    blobs: dict[str, bytes] = field(default_factory=dict)
    trees: dict[str, dict[str, str]] = field(default_factory=dict)  # sha -> {path: blob sha}
    commits: dict[str, dict[str, Any]] = field(default_factory=dict)
    tags: dict[str, dict[str, Any]] = field(default_factory=dict)
    refs: dict[str, str] = field(default_factory=dict)  # refs/heads/main -> sha
    pulls: dict[int, dict[str, Any]] = field(default_factory=dict)
    comments: dict[int, dict[str, Any]] = field(default_factory=dict)
    labels: dict[str, dict[str, str]] = field(default_factory=dict)
    statuses: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # newest first


class HTTPFault(Exception):
    def __init__(self, status: int, message: str, errors: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.errors = status, message, errors


def _sha(kind: str, data: Any) -> str:
    return hashlib.sha1(f"{kind}\0{json.dumps(data, sort_keys=True)}".encode()).hexdigest()


class GitHubEmulator:
    def __init__(self, token: str, owner: str = "acme", name: str = "assistant") -> None:
        self.token, self.owner, self.name = token, owner, name
        self.state = State()
        self.faults: list[Fault] = []
        self.requests: list[Logged] = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02},
                                       daemon=True)

    def __enter__(self) -> GitHubEmulator:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- what tests do to the repository, as GitHub's web UI or a person's `git push` would
    def fail(self, method: str, path: str, status: int, *, times: int = 1, message: str = "",
             headers: dict[str, str] | None = None) -> None:
        """The next `times` `method` requests whose path matches the regex `path` answer `status`."""
        self.faults.append(Fault(method, re.compile(path), status, headers or {},
                                 message or {401: "Bad credentials", 403: "Resource not accessible by integration",
                                             404: "Not Found", 422: "Validation Failed",
                                             502: "Server Error"}.get(status, "error"), times))

    def seed(self, branch: str, files: dict[str, bytes]) -> str:
        """A person's commit of `files` as the whole tree of a new `branch`."""
        tree = self._tree({p: self._blob(c) for p, c in files.items()})
        return self.commit_on(branch, tree, [], "initial", PERSON)

    def push(self, branch: str, files: dict[str, bytes], message: str, author: dict[str, str] = PERSON) -> str:
        """`author`'s commit of `files` on top of `branch`."""
        with self.lock:
            parent = self.state.refs[f"refs/heads/{branch}"]
            paths = dict(self.state.trees[self.state.commits[parent]["tree"]])
            paths.update({p: self._blob(c) for p, c in files.items()})
            return self.commit_on(branch, self._tree(paths), [parent], message, author)

    def commit_on(self, branch: str, tree: str, parents: list[str], message: str, author: dict[str, str]) -> str:
        sha = self._commit(tree, parents, message, author, author)
        self.state.refs[f"refs/heads/{branch}"] = sha
        return sha

    def merge(self, number: int) -> None:
        """Merge pull request `number` (a merge commit on its base)."""
        pr = self.state.pulls[number]
        base = self.state.refs[f"refs/heads/{pr['base']}"]
        head = self.state.refs[f"refs/heads/{pr['head']}"]
        self.commit_on(pr["base"], self.state.commits[head]["tree"], [base, head], f"Merge #{number}", PERSON)
        pr.update(state="closed", merged_at=NOW)

    def file(self, ref: str, path: str) -> bytes | None:
        sha = self.state.refs.get(f"refs/heads/{ref}", ref)
        blob = self.state.trees[self.state.commits[sha]["tree"]].get(path)
        return self.state.blobs[blob] if blob else None

    def calls(self, method: str, pattern: str) -> list[Logged]:
        return [r for r in self.requests if r.method == method and re.search(pattern, r.path)]

    # -- the object store
    def _blob(self, content: bytes) -> str:
        sha = _sha("blob", base64.b64encode(content).decode())
        self.state.blobs[sha] = content
        return sha

    def _tree(self, paths: dict[str, str]) -> str:
        sha = _sha("tree", paths)
        self.state.trees[sha] = dict(sorted(paths.items()))
        return sha

    def _commit(self, tree: str, parents: list[str], message: str, author: dict[str, str],
                committer: dict[str, str]) -> str:
        data = {"tree": tree, "parents": parents, "message": message,
                "author": {**author, "date": author.get("date", NOW)},
                "committer": {**committer, "date": committer.get("date", NOW)}}
        sha = _sha("commit", [data, len(self.state.commits)])  # two identical commits still differ
        self.state.commits[sha] = data
        return sha

    def ancestors(self, sha: str) -> list[str]:
        """`sha` and every commit it reaches, nearest first."""
        seen: list[str] = []
        todo = [sha]
        while todo:
            c = todo.pop(0)
            if c not in seen:
                seen.append(c)
                todo += self.state.commits[c]["parents"]
        return seen


def _handler(emulator: GitHubEmulator) -> type[BaseHTTPRequestHandler]:
    from tests.forge import github_routes

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def _serve(self, method: str) -> None:
            parts = urlsplit(self.path)
            path, query = unquote(parts.path), {k: v[-1] for k, v in parse_qs(parts.query).items()}
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode() if length else ""
            status, body, headers = self._answer(method, path, query, raw)
            with emulator.lock:
                emulator.requests.append(Logged(method, path, status, dict(self.headers), raw))
            data = json.dumps(body).encode() if body is not None else b""
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def _answer(self, method: str, path: str, query: dict[str, str], raw: str) -> tuple[int, Any, dict[str, str]]:
            with emulator.lock:
                for f in emulator.faults:
                    if f.times > 0 and f.method == method and f.path.search(path):
                        f.times -= 1
                        return f.status, {"message": f.message, "documentation_url": "https://docs.github.com/rest"}, f.headers
            if self.headers.get("Authorization") != f"token {emulator.token}":
                return 401, {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"}, {}
            try:
                with emulator.lock:
                    status, body = github_routes.route(emulator, method, path, query, json.loads(raw) if raw else None)
                return status, body, {}
            except HTTPFault as e:
                out: dict[str, Any] = {"message": e.message, "documentation_url": "https://docs.github.com/rest"}
                if e.errors:
                    out["errors"] = e.errors
                return e.status, out, {}

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def do_PATCH(self) -> None:
            self._serve("PATCH")

        def do_PUT(self) -> None:
            self._serve("PUT")

        def do_DELETE(self) -> None:
            self._serve("DELETE")

    return Handler
