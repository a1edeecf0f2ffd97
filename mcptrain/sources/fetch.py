"""Downloading one source's documents with httpx: a bearer token from the environment,
a timeout per request, retries with backoff on connection errors, timeouts and 5xx
answers (never on 4xx: a wrong token does not get better by asking again), and a size
cap read while streaming, so a huge payload is refused before it is held in memory."""

from __future__ import annotations

import os
import time
from urllib.parse import urljoin

from mcptrain.errors import MCPTrainError
from mcptrain.specs.models import SourceSpec

BACKOFF = 0.5  # seconds before the first retry; doubled each time


class FetchError(MCPTrainError):
    """A source's document could not be downloaded."""


def resolve(base: str, endpoint: str) -> str:
    """An endpoint as the discovery document gives it (absolute, or relative to it)."""
    return urljoin(base, endpoint)


def fetch(source: SourceSpec, url: str) -> bytes:
    import httpx

    headers = {"Accept": "application/json"}
    if source.token_env and os.environ.get(source.token_env):
        headers["Authorization"] = f"Bearer {os.environ[source.token_env]}"
    last = ""
    for attempt in range(source.retries + 1):
        if attempt:
            time.sleep(BACKOFF * 2 ** (attempt - 1))
        try:
            with httpx.Client(timeout=source.timeout, follow_redirects=False) as client:
                with client.stream("GET", url, headers=headers) as response:
                    if response.status_code >= 500:
                        last = f"HTTP {response.status_code}"
                        continue
                    if response.status_code != 200:
                        raise FetchError(f"{url}: HTTP {response.status_code}" + _why(response.status_code, source))
                    return _read_capped(response, source.max_bytes, url)
        except httpx.TimeoutException:
            last = f"no answer within {source.timeout:g}s"
        except httpx.TransportError as e:
            last = f"{type(e).__name__}: {e}"
    tries = source.retries + 1
    raise FetchError(f"{url}: {last} ({tries} attempt{'' if tries == 1 else 's'})")


def _read_capped(response: object, limit: int, url: str) -> bytes:
    import httpx

    assert isinstance(response, httpx.Response)
    declared = response.headers.get("Content-Length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise FetchError(f"{url}: payload is {int(declared)} bytes; the limit is {limit} (sources[].max_bytes)")
    chunks, size = [], 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > limit:
            raise FetchError(f"{url}: payload is over {limit} bytes (sources[].max_bytes)")
        chunks.append(chunk)
    return b"".join(chunks)


def _why(status: int, source: SourceSpec) -> str:
    if status == 401:
        return f" (no or a wrong token: set {source.token_env})" if source.token_env else " (a token is needed)"
    if status == 403:
        return " (the token's caller lacks the role ml_orchestrator)"
    return ""
