"""The GitHub forge's HTTP layer: one github3.py session that retries, and errors a person reads.

GitHub asks integrations to wait and retry on secondary rate limits: a 403 or 429 with
`Retry-After` (wait that long), or with `X-RateLimit-Remaining: 0` (wait until
`X-RateLimit-Reset`), or whose message says "secondary rate limit" (wait a minute). A 5xx
is retried with exponential backoff, and so is a connection that failed. A wait longer
than `Retry.max_wait` is not sat out: the error says when the limit resets. Everything
else is returned to github3.py, which raises; `forge_error` turns that into a ForgeError
naming the cause (401 bad token, 403 permissions, 404 missing, 422 invalid).

The token lives only in the session's auth (from `GITHUB_TOKEN`); every message built
here passes through `redact`, so not even a server that echoes it back can put it in
mcptrain's output.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
from github3.exceptions import GitHubError, GitHubException
from github3.session import GitHubSession

from mcptrain.forge import ForgeError

RETRIED_5XX = (500, 502, 503, 504)
SECONDARY_WAIT = 60.0  # GitHub: "otherwise, wait for at least one minute before retrying"
TOKEN_HINT = ("set GITHUB_TOKEN to a token with Contents, Pull requests and Commit statuses "
              "write access (in a workflow: `env: GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}`)")
PERMISSIONS_HINT = ("give the token write access to contents, pull requests and statuses (in a "
                    "workflow: `permissions: {contents: write, pull-requests: write, statuses: write}`)")


@dataclass(frozen=True)
class Retry:
    """How long to keep trying: `attempts` in all, `backoff` seconds before the second (doubling),
    and never one wait longer than `max_wait`. `sleep` and `clock` are injectable for tests."""

    attempts: int = 5
    backoff: float = 1.0
    max_wait: float = 60.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    clock: Callable[[], float] = field(default=time.time, repr=False)


class RetryingSession(GitHubSession):  # type: ignore[misc]  # github3 has no type hints
    def __init__(self, token: str, retry: Retry) -> None:
        super().__init__(default_connect_timeout=10, default_read_timeout=30)
        self.retry = retry
        self._secret = token
        self.token_auth(token)

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:
        what = f"{method.upper()} {urlsplit(url).path}"
        attempt = 0
        while True:
            attempt += 1
            try:
                response: requests.Response = super().request(method, url, *args, **kwargs)
            except (requests.ConnectionError, requests.Timeout) as e:
                if attempt >= self.retry.attempts:
                    raise ForgeError(self.redact(f"could not reach GitHub at {urlsplit(url).netloc} for {what} "
                                                 f"after {attempt} attempts ({type(e).__name__})"),
                                     hint="check the network and forge.api_url in mcptrain.yaml; run again "
                                          "(promote finishes what an earlier run started)") from e
                wait = self.retry.backoff * 2 ** (attempt - 1)
            else:
                found = self._wait_for(response, attempt)
                if found is None or attempt >= self.retry.attempts:
                    response.mcptrain_attempts = attempt  # type: ignore[attr-defined]  # read by forge_error
                    return response
                wait = found
            if wait > self.retry.max_wait:
                raise ForgeError(self.redact(
                    f"GitHub's rate limit stops {what} for {wait:.0f}s (until "
                    f"{time.strftime('%H:%M:%S UTC', time.gmtime(self.retry.clock() + wait))}); "
                    f"mcptrain waits at most {self.retry.max_wait:.0f}s"),
                    hint="run again after that time, or use a token with its own limit (a GitHub App's)")
            self.retry.sleep(wait)

    def _wait_for(self, response: requests.Response, attempt: int) -> float | None:
        """Seconds to wait before trying `response`'s request again; None: do not retry."""
        status = response.status_code
        if status in RETRIED_5XX:
            return float(self.retry.backoff * 2 ** (attempt - 1))
        if status not in (403, 429):
            return None
        headers = response.headers
        if headers.get("Retry-After"):
            return _seconds(headers["Retry-After"], self.retry.clock())
        if headers.get("X-RateLimit-Remaining") == "0" and headers.get("X-RateLimit-Reset", "").isdigit():
            return max(0.0, int(headers["X-RateLimit-Reset"]) - self.retry.clock()) + 1.0
        if "secondary rate limit" in response.text.lower():
            return SECONDARY_WAIT
        return None

    def redact(self, text: str) -> str:
        return text.replace(self._secret, "***") if self._secret else text


def _seconds(value: str, now: float) -> float:
    """`Retry-After` is delta-seconds or an HTTP date (RFC 9110)."""
    if value.strip().isdigit():
        return float(value.strip())
    try:
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - now)
    except (TypeError, ValueError):
        return SECONDARY_WAIT


def forge_error(e: GitHubException, doing: str, repository: str, redact: Callable[[str], str]) -> ForgeError:
    """A ForgeError naming the cause of github3.py's exception `e`, raised while `doing`."""
    if not isinstance(e, GitHubError) or getattr(e, "response", None) is None:
        return ForgeError(redact(f"GitHub: {doing} failed: {e}"))
    if isinstance(e.msg, str):
        e.msg = redact(e.msg)  # the cause is chained to the ForgeError: a traceback shows it
    response = e.response
    request = f"{response.request.method} {urlsplit(response.request.url).path}"
    said = str(e.msg or response.reason or "").strip()
    details = "; ".join(str(x.get("message") or x.get("code") or x) if isinstance(x, dict) else str(x)
                        for x in e.errors or [])
    said += f" ({details})" if details else ""
    code = e.code
    if code == 401:
        message, hint = f"GitHub rejected the token in GITHUB_TOKEN while {doing} (401 {said})", TOKEN_HINT
    elif code == 403:
        message, hint = (f"GitHub refused {doing} in {repository}: the token lacks a permission "
                         f"(403 {said}; {request})", PERMISSIONS_HINT)
    elif code == 404:
        message, hint = (f"GitHub answered 404 {said} while {doing}: {repository} or what it "
                         f"names does not exist, or the token cannot see it ({request})",
                         "check forge.repository in mcptrain.yaml (owner/name) and the token's access to it")
    elif code == 422:
        message, hint = f"GitHub rejected {doing} as invalid (422 {said}; {request})", None
    else:
        tries = getattr(response, "mcptrain_attempts", 1)
        message = f"GitHub failed {doing} ({code} {said}; {request}) after {tries} attempt{'s' * (tries > 1)}"
        hint = "GitHub may be degraded (https://www.githubstatus.com); run again: promote finishes what it started"
    return ForgeError(redact(message), hint=redact(hint) if hint else None)
