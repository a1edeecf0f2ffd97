"""Running the training loop on Ray Train (v2: `ray.train.torch.TorchTrainer`).

A local Ray instance by default (`ray.init(num_cpus=...)`, no dashboard), an existing
cluster when `ray.address` or RAY_ADDRESS is set. The run is named by the caller and
stored under `storage_path/<name>`: Train v2 restores a run from the snapshot in that
folder, so re-running the same command continues from its last checkpoint. Progress
events travel from rank 0 back to the caller through a Ray queue actor (the loop runs
in another process, often on another machine).
"""

from __future__ import annotations

import logging
import math
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mcptrain.specs.models import RaySpec
from mcptrain.training import checkpoint as ckpt
from mcptrain.training.progress import OnProgress, ProgressEvent

SNAPSHOT = "checkpoint_manager_snapshot.json"
# Environment a worker needs to find the same caches (local clusters share the disk).
PROPAGATED_ENV = ("MCPTRAIN_CACHE", "XDG_CACHE_HOME", "HOME", "HF_HOME", "HF_HUB_OFFLINE",
                  "TRANSFORMERS_OFFLINE")


class RaySession:
    """The loop's view of Ray Train from inside a worker."""

    def __init__(self, queue: Any, run_dir: str | None) -> None:
        import ray.train

        context = ray.train.get_context()
        self.world_rank = context.get_world_rank()
        self.world_size = context.get_world_size()
        self.queue = queue
        self.run_dir = Path(run_dir) if run_dir else None

    @contextmanager
    def latest_checkpoint(self) -> Iterator[Path | None]:
        import ray.train

        found = ray.train.get_checkpoint()
        if found is None:
            yield ckpt.latest_checkpoint(run_dir=self.run_dir)
            return
        with found.as_directory() as folder:
            yield ckpt.latest_checkpoint(Path(folder), run_dir=self.run_dir)

    def report(self, metrics: dict[str, Any], checkpoint_dir: Path | None, step: int) -> None:
        import ray.train

        if checkpoint_dir is None:
            ray.train.report(metrics)
            return
        ray.train.report(metrics, checkpoint=ray.train.Checkpoint.from_directory(str(checkpoint_dir)),
                         checkpoint_dir_name=ckpt.checkpoint_name(step))

    def emit(self, event: ProgressEvent) -> None:
        if self.world_rank == 0 and self.queue is not None:
            self.queue.put(event.to_dict())


def worker_entry(config: dict[str, Any]) -> None:
    """What each Ray Train worker runs."""
    from mcptrain.training.loop import train_loop

    queue = config.pop("_progress_queue", None)
    train_loop(config, RaySession(queue, config.get("run_dir")))


def local_run_dir(storage_path: str, name: str) -> Path | None:
    """The run folder when storage is a local path (None for s3://, gs://, ...)."""
    if "://" in storage_path and not storage_path.startswith("file://"):
        return None
    return Path(storage_path.removeprefix("file://")) / name


def repair_snapshot(run_dir: Path | None) -> bool:
    """Set aside a run snapshot that names checkpoints no longer on disk.

    A hard kill can leave the snapshot pointing at a deleted checkpoint; Ray then refuses
    the folder. Without the snapshot the loop still finds the newest complete checkpoint
    on disk itself.
    """
    import json

    if run_dir is None or not (run_dir / SNAPSHOT).is_file():
        return False
    try:
        text = (run_dir / SNAPSHOT).read_text(encoding="utf-8")
        json.loads(text)
    except (OSError, ValueError):
        text = ""
    names = {p.name for p in run_dir.iterdir()}
    mentioned = set(re.findall(r"checkpoint_\d{6,}", text))
    if text and mentioned <= names:
        return False
    (run_dir / SNAPSHOT).replace(run_dir / (SNAPSHOT + ".corrupt"))
    return True


def run_on_ray(config: dict[str, Any], ray_spec: RaySpec, storage_path: str, name: str,
               on_progress: OnProgress | None = None) -> Path | None:
    """Run `train_loop` on Ray; returns the final checkpoint as a local directory (None if
    the storage is remote: then the caller downloads it)."""
    import ray
    from ray.train import CheckpointConfig, FailureConfig, RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer
    from ray.util.queue import Queue

    address = ray_spec.address or os.environ.get("RAY_ADDRESS")
    per_worker = {"CPU": float(ray_spec.cpus_per_worker), **ray_spec.resources_per_worker}
    started = False
    if not ray.is_initialized():
        if address:
            ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False)
        else:
            custom = {k: v * ray_spec.num_workers for k, v in ray_spec.resources_per_worker.items()
                      if k not in {"CPU", "GPU", "memory"}}
            ray.init(num_cpus=math.ceil(per_worker["CPU"] * ray_spec.num_workers),
                     resources=custom or None, include_dashboard=False,
                     logging_level=logging.WARNING, log_to_driver=False)
        started = True
    env = {k: os.environ[k] for k in PROPAGATED_ENV if k in os.environ and not address}
    stop = threading.Event()
    queue = Queue(actor_options={"num_cpus": 0})
    failed: list[BaseException] = []

    def drain() -> None:
        while not stop.is_set() or not queue.empty():
            try:
                item = queue.get(timeout=0.5)
            except Exception:  # queue.Empty (ray raises its own subclass)
                continue
            if on_progress is not None and not failed:
                try:
                    on_progress(ProgressEvent.from_dict(item))
                except BaseException as e:  # re-raised in the caller's thread after the run
                    failed.append(e)

    thread = threading.Thread(target=drain, name="mcptrain-progress", daemon=True)
    thread.start()
    try:
        repair_snapshot(local_run_dir(storage_path, name))
        trainer = TorchTrainer(
            worker_entry,
            train_loop_config={**config, "_progress_queue": queue},
            scaling_config=ScalingConfig(num_workers=ray_spec.num_workers, use_gpu=ray_spec.use_gpu,
                                         resources_per_worker=per_worker),
            run_config=RunConfig(
                name=name, storage_path=storage_path,
                checkpoint_config=CheckpointConfig(num_to_keep=2),
                failure_config=FailureConfig(max_failures=1),
                # Train v2's RunConfig; mypy sees v1's through ray.train's static imports.
                worker_runtime_env={"env_vars": env} if env else None),  # type: ignore[call-arg]
        )
        result = trainer.fit()
        stop.set()
        thread.join(timeout=10)
        if failed:
            raise failed[0]
        final = result.checkpoint
        if final is None:
            return None
        local = local_run_dir(storage_path, name)
        if local is not None and Path(final.path).is_dir():
            return Path(final.path)
        return Path(final.to_directory())
    finally:
        stop.set()
        thread.join(timeout=10)
        try:
            ray.kill(queue.actor)  # type: ignore[arg-type]
        except Exception:  # the cluster may already be gone
            pass
        if started:
            ray.shutdown()
