"""Faults end to end on the tiny model: a crash after each stage (promote included, in a git
repository so the local forge opens the pull request) resumes at the next one and loses nothing; a damaged stage record is recomputed with a warning; two concurrent
reconciles never run at once; a saved plan is applied exactly."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from mcptrain.reconciler import plan as plan_module
from mcptrain.reconciler import promote, records, sources, stages
from mcptrain.reconciler.lock import read_holder
from mcptrain.workspace import Workspace
from tests.cli import mcptrain
from tests.conftest import REPO
from tests.reconciler.test_promote import git, pulls

STAGES = ("build", "train", "eval", "gate", "promote")


class Crash(RuntimeError):
    """The process dying right after a stage finished."""


class _Clock:
    """`records.dt` whose `now` moves an hour at every call: a record rewritten by a later
    run differs from the one it replaced, however fast the runs are."""

    UTC = dt.UTC

    def __init__(self) -> None:
        self.calls = 0
        clock = self

        class _DateTime(dt.datetime):
            @classmethod
            def now(cls, tz: Any = None) -> Any:
                clock.calls += 1
                return dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + dt.timedelta(hours=clock.calls)

        self.datetime = _DateTime


def crash_after(stage: str, monkeypatch: pytest.MonkeyPatch) -> None:
    real = records.write_record

    def write_then_die(ws: Workspace, name: str, inputs: str, outputs: dict[str, Any]) -> dict[str, Any]:
        record = real(ws, name, inputs, outputs)
        if name == stage:
            raise Crash(f"killed after {stage}")
        return record

    for module in (stages, plan_module, sources, promote):
        monkeypatch.setattr(module, "write_record", write_then_die)


def recorded(root: Path) -> dict[str, Any]:
    return {s: records.read_record(Workspace(root), s) for s in STAGES}


def test_a_crash_after_each_stage_resumes_at_the_next(tiny_project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = str(tiny_project)
    git(tiny_project, "init", "-q", "-b", "main")
    (tiny_project / ".gitignore").write_text("/.mcptrain/\n/datasets/\n")
    git(tiny_project, "add", "-A")
    git(tiny_project, "commit", "-qm", "initial")
    done: dict[str, Any] = {}
    monkeypatch.setattr(records, "dt", _Clock())
    for i, stage in enumerate(STAGES):
        with monkeypatch.context() as m:
            crash_after(stage, m)
            code, out, err = mcptrain("reconcile", root, "--yes", "--inline")
        assert code == 1 and f"killed after {stage}" in err, (stage, err)
        now = recorded(tiny_project)
        for earlier in STAGES[:i]:
            assert now[earlier] == done[earlier], f"{earlier} ran again after the crash after {STAGES[i - 1]}"
        assert now[stage] is not None
        assert all(now[later] is None for later in STAGES[i + 1:])
        if i:
            assert re.search(r"build is up to date: \d+ spec files unchanged", out)
            assert re.search(rf"{stage}\s*│\s*run", out)
        done[stage] = now[stage]
    # The crash came after the pull request was opened and recorded: it is neither opened again
    # nor pushed to again.
    (pr,) = pulls(tiny_project)
    assert pr["number"] == done["promote"]["outputs"]["pull_request"] and pr["state"] == "open"
    tip = git(tiny_project, "rev-parse", pr["head"])
    assert tip == done["promote"]["outputs"]["sha"]
    code, out, err = mcptrain("reconcile", root, "--yes", "--inline")
    assert code == 0, err
    assert "mcptrain: nothing to do" in out and "2/5 train" not in out and "5/5 promote" not in out
    assert f"pull request #{pr['number']} (v1.0.0) is up to date" in out, out
    assert recorded(tiny_project) == done
    assert pulls(tiny_project) == [pr] and git(tiny_project, "rev-parse", pr["head"]) == tip
    assert json.loads((tiny_project / ".mcptrain/stages/promote.json").read_text())["outputs"]["version"] == "1.0.0"
    assert read_holder(Workspace(tiny_project)) is None  # every crashed run released the lock

    # A damaged record is a cache miss, said once: that stage runs again, nothing else.
    (tiny_project / ".mcptrain" / "stages" / "eval.json").write_text('{"format": 1, "stage": "ev')
    code, out, err = mcptrain("reconcile", root, "--yes", "--inline")
    assert code == 0, err
    assert err.count(".mcptrain/stages/eval.json: not readable JSON (") == 1
    assert "; ignored, the eval stage is recomputed" in err
    assert re.search(r"train\s*│\s*up to date", out) and re.search(r"eval\s*│\s*run", out)
    after = recorded(tiny_project)
    assert after["train"] == done["train"] and after["eval"]["inputs"] == done["eval"]["inputs"]

    (tiny_project / ".mcptrain" / "stages" / "build.json").write_text('{"format": 99}')
    code, out, err = mcptrain("reconcile", root, "--yes", "--inline")
    assert code == 0, err
    assert ".mcptrain/stages/build.json: not a stage record of this mcptrain (format 99, expected 1)" in err
    assert "mcptrain: nothing to do: the dataset is unchanged" in out  # rebuilt to the same dataset


def test_a_saved_plan_is_applied_exactly(tiny_project: Path, tmp_path: Path) -> None:
    saved = tmp_path / "plan.json"
    code, _, err = mcptrain("plan", str(tiny_project), "--out", str(saved))
    assert code == 0, err
    code, out, err = mcptrain("reconcile", str(saved), "--root", str(tiny_project))  # no --yes: it was reviewed
    assert code == 0, err
    assert f"applying the saved plan {saved}" in out and "mcptrain: verdict " in out
    assert all(records.read_record(Workspace(tiny_project), s) is not None for s in STAGES[:-1])
    assert records.read_record(Workspace(tiny_project), "promote") is None  # not a git repository: skipped
    code, _, err = mcptrain("reconcile", str(saved), "--root", str(tiny_project))
    assert code == 1  # applied once: the state it was made against has moved
    assert "the recorded state of train, eval, gate changed since the plan was made" in err
    code, _, _ = mcptrain("plan", str(tiny_project), "--detailed-exitcode")
    assert code == 0


def test_two_concurrent_reconciles_one_waits(tiny_project: Path, tmp_path: Path) -> None:
    log = tmp_path / "first.log"
    with log.open("w") as sink:  # a file, not a pipe: a full pipe would stall the first run
        first = subprocess.Popen([sys.executable, "-m", "mcptrain", "reconcile", str(tiny_project), "--yes",
                                  "--inline"], stdout=sink, stderr=subprocess.STDOUT,
                                 env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        deadline = time.monotonic() + 60
        while (held := read_holder(Workspace(tiny_project))) is None or held.pid != first.pid:
            assert first.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        code, _, err = mcptrain("reconcile", str(tiny_project), "--yes", "--inline")
        assert code == 1 and f"locked by pid {first.pid} on " in err
        code, out, err = mcptrain("reconcile", str(tiny_project), "--yes", "--inline", "--lock-timeout", "5m")
        assert code == 0, err
        assert f"waiting up to 300s for the lock held by pid {first.pid}" in out
        assert first.wait(timeout=120) == 0, log.read_text()  # released the lock, then exited
        assert "mcptrain: nothing to do" in out  # the first run did the work; the second found it done
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
