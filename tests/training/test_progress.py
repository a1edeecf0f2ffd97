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
    assert describe(line) == "step 10/30  loss 1.2000  lr 1.00e-04  413 tok/s  10.0 s/step  ~3 min left"
    # A window of one step is that step.
    assert window(events[-1:]).metrics == events[-1].metrics


@pytest.mark.parametrize(("step_n", "total", "seconds", "left"), [
    (10, 30, 10.0, "  ~3 min left"),       # 20 steps x 10 s
    (20, 160, 19.3, "  ~45 min left"),     # 140 x 19.3 s = 45.0 min
    (20, 400, 19.3, "  ~2 h 2 min left"),  # 380 x 19.3 s = 122.2 min
    (159, 160, 4.0, "  <1 min left"),
    (160, 160, 4.0, ""),                    # the last step: nothing left to estimate
])
def test_a_step_line_says_how_long_the_steps_left_take(step_n: int, total: int, seconds: float, left: str) -> None:
    line = describe(ProgressEvent("step", step_n, total, metrics={"loss": 0.5, "seconds": seconds}))
    assert line == f"step {step_n}/{total}  loss 0.5000  {seconds:.1f} s/step{left}"
