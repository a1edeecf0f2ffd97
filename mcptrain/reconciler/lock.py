"""One `reconcile` (or `plan`) at a time per repository: `.mcptrain/lock`.

The lock is an advisory `flock` on the file, so the kernel releases it when its holder
exits, however it exits (a crash, `kill -9`, a runner that vanished): a lock is never
left to block forever. The file also names its holder (pid, host, start time, command)
for the message a second run prints; a holder record found when the lock was free was
left by a process that died holding it, and the new holder says it took it over.

The file is truncated, never removed, on release: removing it would let a waiting run
lock the old inode while a third run creates and locks a new one.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import re
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from mcptrain.errors import MCPTrainError
from mcptrain.workspace import Workspace

POLL_SECONDS = 0.2
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smh]?)")
_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600}


class LockError(MCPTrainError):
    """Another run holds the repository's lock."""


@dataclass(frozen=True)
class Holder:
    pid: int
    host: str
    started_at: str
    command: str

    def describe(self) -> str:
        return f"pid {self.pid} on {self.host}, started {self.started_at} ({self.command})"


def parse_duration(text: str) -> float:
    """`30`, `30s`, `5m`, `1h` (Terraform's `-lock-timeout` spelling) -> seconds."""
    m = _DURATION.fullmatch(text.strip())
    if m is None:
        raise ValueError(f"expected a duration such as 30s, 5m or 1h (got {text!r})")
    return float(m.group(1)) * _UNIT[m.group(2)]


def read_holder(ws: Workspace) -> Holder | None:
    """Who holds (or last held, if it died holding) the lock."""
    try:
        data = json.loads(ws.lock_path.read_text(encoding="utf-8") or "null")
        return Holder(int(data["pid"]), str(data["host"]), str(data["started_at"]), str(data["command"]))
    except (OSError, ValueError, TypeError, KeyError):
        return None


@contextmanager
def hold_lock(ws: Workspace, command: str, *, timeout: float = 0.0,
              on_wait: Callable[[Holder | None], None] | None = None,
              on_takeover: Callable[[Holder], None] | None = None) -> Iterator[Holder]:
    """Hold the repository's lock for the block. Waits up to `timeout` seconds for another
    holder (calling `on_wait(holder)` once), then raises LockError naming it."""
    path = ws.lock_path
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        _acquire(ws, fd, command, timeout, on_wait)
        left = read_holder(ws)
        if left is not None and on_takeover is not None:
            on_takeover(left)  # the lock was free, yet a holder is named: it died holding it
        me = Holder(os.getpid(), socket.gethostname(),
                    dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), command)
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(me.__dict__).encode("utf-8"), 0)
        try:
            yield me
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _acquire(ws: Workspace, fd: int, command: str, timeout: float,
             on_wait: Callable[[Holder | None], None] | None) -> None:
    deadline = time.monotonic() + timeout
    waited = False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            holder = read_holder(ws)
            if time.monotonic() >= deadline:
                raise LockError(_held_message(ws, holder, command, timeout),
                                hint="wait for it to finish, or pass --lock-timeout 30m to wait; "
                                     "a lock whose holder died is taken over by itself") from None
            if not waited and on_wait is not None:
                on_wait(holder)
            waited = True
            time.sleep(POLL_SECONDS)


def _held_message(ws: Workspace, holder: Holder | None, command: str, timeout: float) -> str:
    who = holder.describe() if holder is not None else "another process (it has not named itself yet)"
    waited = f" after waiting {timeout:g}s" if timeout else ""
    return f"{command}: the repository is locked by {who}{waited} ({ws.relative(ws.lock_path)})"


