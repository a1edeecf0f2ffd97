"""Progress events from a training run, and the one line each is shown as.

The training loop runs in a Ray worker; it cannot print (only `mcptrain/output.py`
prints) and often is not even in the caller's process. It emits `ProgressEvent`s, which
reach the caller's `on_progress(event)` callback; `describe(event)` is the line a CLI
would show.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Kind = Literal["info", "start", "resume", "step", "eval", "checkpoint", "early_stop", "done"]


@dataclass(frozen=True)
class ProgressEvent:
    kind: Kind
    step: int = 0
    total_steps: int = 0
    message: str = ""
    metrics: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProgressEvent:
        return cls(**data)


OnProgress = Callable[[ProgressEvent], None]


def describe(event: ProgressEvent) -> str:
    m = event.metrics
    where = f"step {event.step}/{event.total_steps}"
    if event.kind == "step":
        parts = [where, f"loss {m['loss']:.4f}"]
        if "lr" in m:
            parts.append(f"lr {m['lr']:.2e}")
        if "tokens_per_s" in m:
            parts.append(f"{m['tokens_per_s']:.0f} tok/s")
        if "seconds" in m:
            parts.append(f"{m['seconds']:.1f} s/step")
            if event.total_steps > event.step:
                parts.append(f"{_duration(m['seconds'] * (event.total_steps - event.step))} left")
        return "  ".join(parts)
    if event.kind == "eval":
        best = f" (best {m['best_val_loss']:.4f})" if "best_val_loss" in m else ""
        return f"{where}  validation loss {m['val_loss']:.4f}{best}"
    if event.kind == "checkpoint":
        return f"{where}  checkpoint saved"
    if event.kind == "resume":
        return f"resuming from step {event.step}/{event.total_steps}"
    if event.kind == "early_stop":
        return f"{where}  early stop: {event.message}"
    return event.message or f"{event.kind} {where}"


def _duration(seconds: float) -> str:
    """A remaining time as a person reads it: at that step time (the window's mean), the
    steps still to run; the step time varies by batch, so minutes are all it can promise."""
    minutes = round(seconds / 60)
    if minutes < 1:
        return "<1 min"
    if minutes < 60:
        return f"~{minutes} min"
    return f"~{minutes // 60} h {minutes % 60} min"


def window(events: list[ProgressEvent]) -> ProgressEvent:
    """Several step events as one: the last step's position, the mean loss, and the time
    and throughput of the whole window (a log line every tenth step then describes the ten
    steps, not only the tenth: one long multi-turn batch is not "21 s/step")."""
    last = events[-1]
    steps = [e for e in events if e.kind == "step"]
    seconds = sum(e.metrics.get("seconds", 0.0) for e in steps)
    metrics: dict[str, float] = dict(last.metrics)
    if steps:
        metrics["loss"] = sum(e.metrics["loss"] for e in steps) / len(steps)
    if seconds > 0:
        metrics["seconds"] = seconds / len(steps)
        for key in ("tokens_per_s", "computed_tokens_per_s"):
            if all(key in e.metrics for e in steps):
                metrics[key] = sum(e.metrics[key] * e.metrics["seconds"] for e in steps) / seconds
    return ProgressEvent(last.kind, last.step, last.total_steps, last.message, metrics)
