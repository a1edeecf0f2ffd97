"""`mcptrain serve`: a service's published documents over HTTP, for the orchestrator only.

- the training and test payloads need a bearer token of a caller with the role
  `ml_orchestrator` (no or an unknown token: 401; a known caller without the role: 403);
- the discovery document is public only where the service's consent says
  `public_discovery: true`; otherwise any known caller may read it;
- every request is one JSON line in the audit log: when, who (the caller's name, never
  its token), from where, what, and the answer's status;
- each caller (or address, for callers without a token) gets `rate_limit` requests per
  minute; past that, 429 with Retry-After.

Tokens are compared in constant time. The standard library's threading HTTP server is
enough for an endpoint a few orchestrators call a few times a week.
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from mcptrain.publishing.documents import DISCOVERY_PATH
from mcptrain.specs.models import ORCHESTRATOR_ROLE

WINDOW = 60.0  # seconds the rate limit counts over


@dataclass(frozen=True)
class Caller:
    name: str
    roles: frozenset[str]
    token: str = field(repr=False)  # never printed, never logged


@dataclass
class Policy:
    documents: dict[str, bytes]  # URL path -> JSON body
    callers: list[Caller]
    public_discovery: bool
    rate_limit: int
    audit_log: Path
    _hits: dict[str, deque[float]] = field(default_factory=lambda: defaultdict(deque))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def caller(self, header: str | None) -> Caller | None:
        if not header or not header.startswith("Bearer "):
            return None
        given = header[len("Bearer "):].strip().encode("utf-8")
        found = None
        for c in self.callers:  # every token compared, in constant time, whoever matches
            if hmac.compare_digest(c.token.encode("utf-8"), given):
                found = c
        return found

    def allow(self, key: str) -> float | None:
        """None when `key` may make another request now; else the seconds to wait."""
        now = time.monotonic()
        with self._lock:
            hits = self._hits[key]
            while hits and hits[0] <= now - WINDOW:
                hits.popleft()
            if len(hits) >= self.rate_limit:
                return WINDOW - (now - hits[0])
            hits.append(now)
            return None

    def audit(self, entry: dict[str, Any]) -> None:
        line = json.dumps({"time": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), **entry},
                          sort_keys=True)
        with self._lock:
            self.audit_log.parent.mkdir(parents=True, exist_ok=True)
            with self.audit_log.open("a", encoding="utf-8") as f:
                f.write(line + "\n")


def make_server(policy: Policy, host: str, port: int) -> ThreadingHTTPServer:
    """A server bound to host:port (port 0: any free one); `serve_forever()` runs it."""

    class Handler(BaseHTTPRequestHandler):
        server_version = "mcptrain"

        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            path = self.path.split("?", 1)[0]
            caller = policy.caller(self.headers.get("Authorization"))
            who = caller.name if caller else "anonymous"
            wait = policy.allow(caller.name if caller else f"ip:{self.client_address[0]}")
            if wait is not None:
                status, body = 429, {"error": "rate limit exceeded", "retry_after": int(wait) + 1}
            else:
                status, body = _answer(policy, path, caller)
            policy.audit({"who": who, "from": self.client_address[0], "method": "GET", "path": path,
                          "status": status})
            data = policy.documents[path] if status == 200 else json.dumps(body).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if status == 401:
                self.send_header("WWW-Authenticate", 'Bearer realm="mcptrain"')
            if status == 429:
                self.send_header("Retry-After", str(body["retry_after"]))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            return None  # the audit log is the record; nothing on stderr per request

    return ThreadingHTTPServer((host, port), Handler)


def _answer(policy: Policy, path: str, caller: Caller | None) -> tuple[int, dict[str, Any]]:
    if path not in policy.documents:
        return 404, {"error": f"no such document: {path}", "documents": sorted(policy.documents)}
    if path == DISCOVERY_PATH and policy.public_discovery:
        return 200, {}
    if caller is None:
        return 401, {"error": "a bearer token is required"}
    if path != DISCOVERY_PATH and ORCHESTRATOR_ROLE not in caller.roles:
        return 403, {"error": f"the role {ORCHESTRATOR_ROLE!r} is required"}
    return 200, {}
