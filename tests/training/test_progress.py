"""The log line of a window of training steps."""

from __future__ import annotations

import pytest

from mcptrain.training.progress import ProgressEvent, describe, window


def step(n: int, loss: float, seconds: float, tokens: float) -> ProgressEvent:
    return ProgressEvent("step", n, 30, metrics={"loss": loss, "lr": 1e-3 / n, "seconds": seconds,
                                                 "tokens_per_s": tokens / seconds})


def test_a_window_line_describes_all_its_steps_not_only_the_last() -> None:
    events = [step(8, 0.3, 4.0, 4000), step(9, 0.2, 4.0, 4000), step(10, 3.1, 22.0, 4400)]
    line = window(events)
    assert (line.step, line.total_steps) == (10, 30)
    assert line.metrics["loss"] == pytest.approx((0.3 + 0.2 + 3.1) / 3)
    assert line.metrics["seconds"] == pytest.approx(30.0 / 3)
    assert line.metrics["tokens_per_s"] == pytest.approx(12400 / 30.0)
    assert line.metrics["lr"] == events[-1].metrics["lr"]  # the rate now, not an average
    assert describe(line) == "step 10/30  loss 1.2000  lr 1.00e-04  413 tok/s  10.0 s/step"
    # A window of one step is that step.
    assert window(events[-1:]).metrics == events[-1].metrics
