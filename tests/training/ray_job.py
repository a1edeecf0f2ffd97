"""`python -m tests.training.ray_job MODEL OUT STEPS [KILL_AT]`: train the tiny model on Ray;
with KILL_AT, SIGKILL this driver once checkpoint KILL_AT is saved (a hard kill)."""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

from mcptrain.specs.models import ProjectSpec
from mcptrain.training.lora import train_lora
from mcptrain.training.progress import ProgressEvent
from tests.training.tiny import make_row


def main() -> None:
    model, out = sys.argv[1], Path(sys.argv[2])
    steps = int(sys.argv[3])
    kill_at = int(sys.argv[4]) if len(sys.argv) > 4 else None
    project = ProjectSpec.model_validate({
        "apiVersion": "mcptrain/v1", "kind": "Project", "name": "t", "base_model": model,
        "training": {"max_steps": steps, "batch_size": 2, "eval_every": 100, "checkpoint_every": 2,
                     "learning_rate": 0.01},
        "ray": {"num_workers": 1, "cpus_per_worker": 1}})

    def on_progress(event: ProgressEvent) -> None:
        if kill_at is not None and event.kind == "checkpoint" and event.step >= kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    result = train_lora(project, [make_row(i) for i in range(12)], [make_row(50)], out, "run",
                        on_progress=on_progress)
    sys.stdout.write(json.dumps(result.summary) + "\n")


if __name__ == "__main__":
    main()
