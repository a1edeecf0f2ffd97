"""Training checkpoints: everything needed to continue a run exactly where it stopped.

A checkpoint directory holds the adapter (peft format, loadable on its own), the best
adapter by validation loss so far (`best/`), the optimizer state, the RNG states and
`state.json` (step, early-stopping state, history, the run's input fingerprint).
`state.json` is written last: a directory without it is an interrupted save and is
never resumed from.
"""

from __future__ import annotations

import json
import random
import re
import shutil
from pathlib import Path
from typing import Any

STATE = "state.json"
BEST = "best"
NAME = re.compile(r"^checkpoint_(\d{6,})$")


def checkpoint_name(step: int) -> str:
    return f"checkpoint_{step:06d}"


def save_checkpoint(folder: Path, model: Any, optimizer: Any, state: dict[str, Any],
                    best_adapter: Path | None) -> None:
    import torch

    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    if best_adapter is not None and best_adapter.resolve() != (folder / BEST).resolve():
        shutil.copytree(best_adapter, folder / BEST, dirs_exist_ok=True)
    torch.save(optimizer.state_dict(), folder / "optimizer.pt")
    torch.save({"torch": torch.get_rng_state(), "python": random.getstate()}, folder / "rng.pt")
    tmp = folder / (STATE + ".tmp")
    tmp.write_text(json.dumps(state, indent=2, sort_keys=True), encoding="utf-8")
    tmp.replace(folder / STATE)


def read_state(folder: Path) -> dict[str, Any] | None:
    """The checkpoint's state, or None when the save never finished."""
    try:
        state = json.loads((folder / STATE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) and isinstance(state.get("step"), int) else None


def restore_checkpoint(folder: Path, model: Any, optimizer: Any, device: str = "cpu") -> dict[str, Any]:
    """Load adapter, optimizer and RNG states into place; returns the saved state."""
    import torch
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    state = read_state(folder)
    if state is None:
        raise ValueError(f"{folder} is not a complete checkpoint")
    set_peft_model_state_dict(model, load_file(str(folder / "adapter_model.safetensors"), device=device))
    optimizer.load_state_dict(torch.load(folder / "optimizer.pt", weights_only=True, map_location=device))
    rng = torch.load(folder / "rng.pt", weights_only=False)  # our own file: python RNG state
    torch.set_rng_state(rng["torch"])
    random.setstate(rng["python"])
    return state


def find_checkpoints(run_dir: Path) -> list[tuple[int, Path]]:
    """Complete checkpoints under `run_dir`, oldest first."""
    found = []
    if run_dir.is_dir():
        for child in run_dir.iterdir():
            m = NAME.match(child.name)
            state = read_state(child) if m and child.is_dir() else None
            if state is not None:
                found.append((state["step"], child))
    return sorted(found)


def latest_checkpoint(*candidates: Path | None, run_dir: Path | None = None) -> Path | None:
    """The complete checkpoint with the highest step among `candidates` and `run_dir`'s.

    Ray's run snapshot can lag behind the directories on disk when a run is killed
    between writing a checkpoint and recording it, so both are considered.
    """
    best: tuple[int, Path] | None = None
    pool = [(read_state(c), c) for c in candidates if c is not None]
    scored = [(s["step"], c) for s, c in pool if s is not None]
    if run_dir is not None:
        scored += find_checkpoints(run_dir)
    for step, path in scored:
        if best is None or step > best[0]:
            best = (step, path)
    return best[1] if best else None
