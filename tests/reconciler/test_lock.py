"""The repository lock: a second run waits or names the holder; a dead holder's lock is taken over."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mcptrain.reconciler.lock import LockError, hold_lock, parse_duration, read_holder
from mcptrain.workspace import Workspace
from tests.cli import mcptrain
from tests.conftest import REPO

HOLD = """
import sys, time
from pathlib import Path
from mcptrain.reconciler.lock import hold_lock
from mcptrain.workspace import Workspace
with hold_lock(Workspace(Path(sys.argv[1])), "mcptrain reconcile"):
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def holder(root: Path, seconds: float) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(root), str(seconds)], stdout=subprocess.PIPE,
                            text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.stdout is not None and proc.stdout.readline() == "held\n"
    return proc


def test_durations() -> None:
    assert [parse_duration(t) for t in ("0", "30", "30s", "5m", "1.5h")] == [0, 30, 30, 300, 5400]
    with pytest.raises(ValueError, match="expected a duration such as 30s, 5m or 1h"):
        parse_duration("soon")


def test_a_held_lock_names_its_holder(tmp_path: Path) -> None:
    proc = holder(tmp_path, 30)
    try:
        with pytest.raises(LockError) as e, hold_lock(Workspace(tmp_path), "mcptrain plan"):
            pass
        started = read_holder(Workspace(tmp_path))
        assert started is not None
        assert str(e.value).startswith(
            f"mcptrain plan: the repository is locked by pid {proc.pid} on {socket.gethostname()}, "
            f"started {started.started_at} (mcptrain reconcile) (.mcptrain/lock)")
    finally:
        proc.kill()
        proc.wait()


def test_the_second_run_waits_for_the_first(tmp_path: Path) -> None:
    proc = holder(tmp_path, 1.0)
    waited: list[object] = []
    started = time.monotonic()
    with hold_lock(Workspace(tmp_path), "mcptrain reconcile", timeout=60, on_wait=waited.append) as me:
        assert time.monotonic() - started >= 0.5
        assert read_holder(Workspace(tmp_path)) == me and me.pid == os.getpid()
    assert len(waited) == 1 and getattr(waited[0], "pid", None) == proc.pid
    proc.wait()
    assert (tmp_path / ".mcptrain" / "lock").read_text() == ""  # released: no holder named


def test_a_lock_left_by_a_killed_process_is_taken_over(tmp_path: Path) -> None:
    proc = holder(tmp_path, 60)
    proc.kill()  # kill -9: no chance to release anything
    proc.wait()
    left = read_holder(Workspace(tmp_path))
    assert left is not None and left.pid == proc.pid
    taken: list[object] = []
    with hold_lock(Workspace(tmp_path), "mcptrain reconcile", on_takeover=taken.append):
        pass
    assert taken == [left]


def test_reconcile_names_the_holder_then_takes_over_a_dead_ones_lock(tiny_project: Path) -> None:
    proc = holder(tiny_project, 30)
    try:
        code, _, err = mcptrain("reconcile", str(tiny_project), "--dry-run")
        assert code == 1
        assert f"mcptrain reconcile: the repository is locked by pid {proc.pid} on {socket.gethostname()}" in err
        assert "hint: wait for it to finish, or pass --lock-timeout 30m to wait" in err
        code, _, err = mcptrain("plan", str(tiny_project), "--lock-timeout", "0.5s")
        assert code == 1 and "after waiting 0.5s" in err
    finally:
        proc.kill()
        proc.wait()
    code, out, err = mcptrain("reconcile", str(tiny_project), "--dry-run")
    assert code == 0, err
    assert f"took over the lock left by pid {proc.pid} on {socket.gethostname()}" in err
    assert "which is no longer running" in err and "dry run" in out
    assert json.loads((tiny_project / ".mcptrain" / "lock").read_text() or "null") is None


def test_lock_timeout_must_be_a_duration(tiny_project: Path) -> None:
    code, _, err = mcptrain("reconcile", str(tiny_project), "--lock-timeout", "soon")
    assert code == 2
    assert "expected a duration such as 30s, 5m or 1h (got 'soon')" in err
