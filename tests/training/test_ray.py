"""The slow tier: real Ray Train, the real SmolLM2 model."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mcptrain.specs.models import ProjectSpec
from mcptrain.training.lora import train_lora
from mcptrain.training.progress import ProgressEvent
from tests.training.tiny import make_row

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def run_job(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The driver in its own session; whatever Ray processes it leaves behind are killed."""
    proc = subprocess.Popen([sys.executable, "-m", "tests.training.ray_job", *args], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, env={**os.environ, **(env or {})})
    try:
        out, err = proc.communicate(timeout=240)
    finally:
        time.sleep(1)
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def settled_checkpoints(run_dir: Path, quiet: float = 3.0, limit: float = 60.0) -> list[str]:
    """The run's checkpoints once none has appeared for `quiet` seconds.

    A worker of the killed driver's Ray instance can outlive it by a few steps (it is
    not in the driver's process group) and save another checkpoint before it notices;
    the resumed run must start from whatever is newest on disk by then.
    """
    deadline = time.monotonic() + limit
    seen = sorted(p.name for p in run_dir.glob("checkpoint_0*"))
    while time.monotonic() < deadline:
        time.sleep(quiet)
        now = sorted(p.name for p in run_dir.glob("checkpoint_0*"))
        if now == seen:
            break
        seen = now
    return seen


@pytest.fixture
def ray_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An existing Ray cluster (`ray start --head`), as a user's would be; stopped after."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ray = str(Path(sys.executable).parent / "ray")
    temp = tmp_path_factory.mktemp("ray")
    subprocess.run([ray, "start", "--head", f"--port={port}", "--num-cpus=2", "--include-dashboard=false",
                    "--disable-usage-stats", f"--temp-dir={temp}", "--node-ip-address=127.0.0.1"],
                   check=True, capture_output=True, timeout=120)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        subprocess.run([ray, "stop", "--force"], capture_output=True, timeout=120)


def test_a_hard_killed_run_continues_from_its_last_checkpoint_on_a_cluster(
        tiny_model: Path, tmp_path: Path, ray_cluster: str) -> None:
    out = tmp_path / "out"
    killed = run_job(str(tiny_model), str(out), "12", "4")  # a local Ray instance
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    on_disk = settled_checkpoints(out / "runs" / "run")
    assert on_disk and not (out / "training_summary.json").exists()

    # Re-run on an existing cluster (RAY_ADDRESS): it continues from the same checkpoint.
    done = run_job(str(tiny_model), str(out), "12", env={"RAY_ADDRESS": ray_cluster})
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["ray_address"] == ray_cluster
    (resumed_at,) = summary["resumed_from"]
    assert f"checkpoint_{resumed_at:06d}" == on_disk[-1]  # the newest on disk, even if Ray's snapshot lags
    assert 4 <= resumed_at < 12 and summary["steps"] == 12
    assert [h["step"] for h in summary["history"]] == list(range(1, 13))


def test_smollm2_learns_the_tools_through_ray(smollm2: Path, tmp_path: Path) -> None:
    project = ProjectSpec.model_validate({
        "apiVersion": "mcptrain/v1", "kind": "Project", "name": "t",
        "training": {"max_steps": 8, "batch_size": 4, "learning_rate": 0.003, "warmup_ratio": 0.0,
                     "eval_every": 8, "checkpoint_every": 4},
        "ray": {"num_workers": 1, "cpus_per_worker": 2}})
    events: list[ProgressEvent] = []
    result = train_lora(project, [make_row(i) for i in range(24)], [make_row(i) for i in range(60, 66)],
                        tmp_path / "out", "smol", on_progress=events.append)
    losses = [e.metrics["loss"] for e in events if e.kind == "step"]
    assert len(losses) == 8
    assert sum(losses[-3:]) / 3 < 0.5 * sum(losses[:2]) / 2, losses
    summary = result.summary
    assert summary["base_model"] == "embedded:smollm2-135m-instruct" and summary["runner"] == "ray"
    assert summary["val_loss_final"] is not None and summary["tokens_per_s"] > 0

    from mcptrain.training.predictor import LocalPredictor

    rows = [make_row(i) for i in range(70, 73)]
    out = LocalPredictor("embedded:smollm2-135m-instruct", tmp_path / "out", max_new_tokens=40).predict(rows)
    assert all(o.startswith('<tool_call>{"name": "') for o in out), out
