"""The call-or-answer decision, calibrated on the validation split.

Every assistant turn starts with one decision: open a tool call, or answer in text
(chit-chat, a clarifying question, a refusal). It rests on the turn's first token, one
token of dozens in a turn, so it carries little of the training loss; measured on the
demo's validation split after 60 steps, the adapter gave the first token of
`<tool_call>` a probability of 0.62-0.95 on turns that call and 0.04-0.88 on turns that
should not: greedy decoding opens a call almost everywhere.

So after training, the adapter's probability of the call trigger's first token is
measured at the start of every validation turn, and the threshold that classifies those
turns best (call or not) is saved next to the adapter as `decision.json`. The predictor
then opens a call only when that probability reaches the threshold; otherwise the turn is
answered in text, the trigger banned for it. Only the validation split is read: a scored
split never moves the threshold. No file (too few validation turns of either kind, or
`training.calibrate_decision: false`) leaves decoding as it was.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from mcptrain.files import replace_file

DECISION_FILE = "decision.json"
TRIGGER = "<tool_call>"
MIN_TURNS = 2  # of each kind (call / answer): fewer cannot place a threshold between them


@dataclass(frozen=True)
class Decision:
    trigger: str
    threshold: float  # open a call when p(first token of `trigger`) >= threshold

    def save(self, folder: Path, evidence: dict[str, Any]) -> None:
        replace_file(folder / DECISION_FILE, json.dumps(
            {**asdict(self), "validation": evidence}, indent=2, sort_keys=True) + "\n")

    @staticmethod
    def load(folder: Path) -> Decision | None:
        try:
            data = json.loads((folder / DECISION_FILE).read_text(encoding="utf-8"))
            return Decision(str(data["trigger"]), float(data["threshold"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None


def decision_points(rows: Sequence[dict[str, Any]]) -> list[tuple[dict[str, Any], bool]]:
    """(the row cut just before an assistant turn, whether that turn calls a tool), for
    every assistant turn of every row."""
    points = []
    for row in rows:
        messages = row["messages"]
        for i, m in enumerate(messages):
            if m.get("role") == "assistant":
                points.append(({**row, "messages": messages[:i]}, bool(m.get("tool_calls"))))
    return points


def choose_threshold(scored: Sequence[tuple[float, bool]]) -> tuple[float, int] | None:
    """The threshold on p(call) that classifies the most turns right, and that count.

    Candidates are the midpoints between neighbouring probabilities (and the ends); among
    equally good ones, the middle of the widest gap. None when either kind has fewer than
    `MIN_TURNS` turns."""
    calls = sum(1 for _, c in scored if c)
    if calls < MIN_TURNS or len(scored) - calls < MIN_TURNS:
        return None
    values = sorted({p for p, _ in scored})
    bounds = [0.0, *values, 1.0 + 1e-9]
    best: tuple[int, float, float] | None = None  # (right, gap, threshold)
    for lo, hi in zip(bounds, bounds[1:], strict=False):
        threshold = (lo + hi) / 2
        right = sum((p >= threshold) == c for p, c in scored)
        key = (right, hi - lo, threshold)
        if best is None or key[:2] > best[:2]:
            best = key
    assert best is not None
    return min(best[2], 1.0), best[0]


def calibrate(predictor: Any, rows: Sequence[dict[str, Any]], out_dir: Path) -> dict[str, Any]:
    """Measure p(call) on the validation turns with `predictor`, save the chosen threshold
    in `out_dir`, and return what was measured (for the training summary).

    Every turn counts, also those grounded identifiers (grounding.py) would send to a text
    answer anyway: chosen on the validation split, that threshold scored 27 of 64 items
    with grounding, one chosen on the remaining turns only 23 (README)."""
    points = decision_points(rows)
    trigger_id = predictor.trigger_id(TRIGGER)
    probs, greedy = predictor.first_token_stats([p for p, _ in points], trigger_id)
    scored = [(p, c) for p, (_, c) in zip(probs, points, strict=True)]
    calls = sum(1 for _, c in scored if c)
    evidence: dict[str, Any] = {
        "turns": len(scored), "call_turns": calls, "answer_turns": len(scored) - calls,
        "greedy_right": sum(g == c for g, (_, c) in zip(greedy, points, strict=True)),
    }
    (out_dir / DECISION_FILE).unlink(missing_ok=True)
    chosen = choose_threshold(scored)
    if chosen is None:
        evidence["threshold"] = None
        evidence["why"] = f"fewer than {MIN_TURNS} validation turns of each kind (call / answer)"
        return evidence
    threshold, right = chosen
    evidence.update(threshold=threshold, calibrated_right=right)
    Decision(TRIGGER, threshold).save(out_dir, evidence)
    return evidence
