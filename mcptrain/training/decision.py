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

That probability is one output of a model trained mostly on the other tokens of a turn.
A decision head (`training.decision_head`, off by default: on the held-out-tools stand-in
it answered in text where the trigger called tools never trained on) asks the same hidden
state directly: a logistic
regression on the final hidden state at each *training* turn's start (the input of the
output layer, standardised; class-balanced; its L2 strength chosen by 5-fold
cross-validation on the training turns), its own threshold again chosen on the validation
turns. The head is kept only when it classifies more validation turns right than the
trigger's probability does (ties keep the trigger, which any server can read from
`logprobs`). On the demo's adapter: 61 of 64 validation turns right against 56 (README).

After a call closes, the same kind of decision comes again: another call (the training
format writes a newline, then `<tool_call>`) or the end of the turn. One token again, and
the demo's adapter gave the newline 0.04-0.10 of the two where another call was due and
where it was not: parallel requests got one call. So calibration also measures, at the end
of every expected call of the validation turns (teacher-forced), p(newline) / (p(newline)
+ p(end of turn)), chooses its threshold, and fits a head on the training turns' call ends
(`More`); the predictor decides where each call closes.

The head reads the trained model's hidden state and, by default, the base model's at the
same position (`training.decision_head_inputs`). Fitted on training turns, whose tools the
adapter knows, a head on the adapter's state alone learned "a request for a tool I was
trained on": on the held-out-tools stand-in it sent 16 of 110 turns asking for tools never
trained on to a text answer. The base model never trained on any tool, so its state cannot
tell a trained tool from a new one; with both, 4 of 110, the validation turns unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

from mcptrain.files import replace_file
from mcptrain.training.prompt import PROMPT_REVISION

DECISION_FILE = "decision.json"
TRIGGER = "<tool_call>"
CONTINUE = "\n" + TRIGGER  # what the training format writes between two calls of one turn
MIN_TURNS = 2  # of each kind (call / answer): fewer cannot place a threshold between them
FOLDS = 5  # cross-validation of the head's L2 strength; it needs this many turns of each kind
L2_GRID = (0.01, 0.1, 1.0)


@dataclass(frozen=True)
class Head:
    """p(call) = sigmoid(((h - mean) / scale) . weight + bias), h the final hidden state."""

    mean: list[float]
    scale: list[float]
    weight: list[float]
    bias: float
    # Whose final hidden states h concatenates, in order: "adapter" (the trained model), "base".
    inputs: tuple[str, ...] = ("adapter",)

    def probability(self, hidden: Any) -> Any:
        import torch

        h = hidden.float()
        z = (h - torch.tensor(self.mean)) / torch.tensor(self.scale)
        return torch.sigmoid(z @ torch.tensor(self.weight) + self.bias)

    @staticmethod
    def fit(hidden: Any, calls: Any, l2: float, inputs: Sequence[str] = ("adapter",)) -> Head:
        """Class-balanced, L2-regularised logistic regression (L-BFGS) on standardised `hidden`."""
        import torch

        x, y = hidden.float(), calls.float()
        mean, scale = x.mean(0), x.std(0) + 1e-6
        z = (x - mean) / scale
        positives = float(y.sum())
        weights = torch.where(y > 0, len(y) / (2 * positives), len(y) / (2 * (len(y) - positives)))
        w = torch.zeros(x.shape[1], requires_grad=True)
        b = torch.zeros(1, requires_grad=True)
        opt = torch.optim.LBFGS([w, b], max_iter=500, line_search_fn="strong_wolfe")

        def closure() -> Any:
            opt.zero_grad()
            loss = (torch.nn.functional.binary_cross_entropy_with_logits(z @ w + b, y, weight=weights)
                    + l2 * (w * w).sum())
            loss.backward()  # type: ignore[no-untyped-call]
            return loss

        with torch.enable_grad():
            opt.step(closure)  # type: ignore[no-untyped-call]
        return Head(mean.tolist(), scale.tolist(), w.detach().tolist(), float(b.detach()), tuple(inputs))


@dataclass(frozen=True)
class More:
    """After a call of a turn closes: open another when p(another) >= threshold, else end
    the turn. p(another) is the head's on the hidden state there, or without a head the
    first token of `CONTINUE` against the end of turn: p(continue) / (p(continue) + p(end))."""

    threshold: float
    head: Head | None = None


@dataclass(frozen=True)
class Decision:
    trigger: str
    threshold: float  # open a call when p(call) >= threshold
    head: Head | None = None  # p(call) from the head; None: p(first token of `trigger`)
    more: More | None = None  # after each call: another, or the end of the turn (None: greedy)

    def save(self, folder: Path, evidence: dict[str, Any]) -> None:
        replace_file(folder / DECISION_FILE, json.dumps(
            {**asdict(self), "validation": evidence, "prompt_revision": PROMPT_REVISION},
            indent=2, sort_keys=True) + "\n")

    @staticmethod
    def load(folder: Path) -> Decision | None:
        try:
            data = json.loads((folder / DECISION_FILE).read_text(encoding="utf-8"))
            more = data.get("more")
            return Decision(str(data["trigger"]), float(data["threshold"]), _head(data.get("head")),
                            More(float(more["threshold"]), _head(more.get("head"))) if more else None)
        except (OSError, ValueError, KeyError, TypeError):
            return None


def stale_decision(folder: Path) -> bool:
    """Whether `folder` holds a decision calibrated on prompts encoded otherwise than they are
    now (`prompt.PROMPT_REVISION`; a file without one predates revision 2, whose later steps of
    multi_turn rows were measured as if they were the first): calibrate it again."""
    try:
        data = json.loads((folder / DECISION_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return not isinstance(data, dict) or data.get("prompt_revision", 1) != PROMPT_REVISION


def _head(data: dict[str, Any] | None) -> Head | None:
    return Head(**{**data, "inputs": tuple(data.get("inputs", ("adapter",)))}) if data is not None else None


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


def call_end_points(rows: Sequence[dict[str, Any]]) -> list[tuple[dict[str, Any], int, bool]]:
    """(the row cut just after an assistant turn that calls, which of its calls (0-based),
    whether another call follows it in that turn), for every call of every such turn."""
    points = []
    for row in rows:
        messages = row["messages"]
        for i, m in enumerate(messages):
            calls = m.get("tool_calls") or [] if m.get("role") == "assistant" else []
            cut = {**row, "messages": messages[: i + 1]}
            points += [(cut, j, j < len(calls) - 1) for j in range(len(calls))]
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


def balanced_accuracy(scores: Any, calls: Any, threshold: float = 0.5) -> float:
    """The mean of the call turns' and the answer turns' recall."""
    said = scores >= threshold
    wanted = calls > 0
    return float(((said[wanted]).float().mean() + (~said[~wanted]).float().mean()) / 2)


def enough_for_head(calls: Any) -> bool:
    n_calls = int(calls.sum())
    return n_calls >= FOLDS and len(calls) - n_calls >= FOLDS


def choose_head(hidden: Any, calls: Any) -> tuple[float, float] | None:
    """(the L2 strength with the best cross-validated balanced accuracy, that accuracy), or
    None when a kind has fewer than `FOLDS` turns. Folds are every `FOLDS`-th turn."""
    import torch

    if not enough_for_head(calls):
        return None
    fold = torch.arange(len(calls)) % FOLDS
    best: tuple[float, float] | None = None
    for l2 in L2_GRID:
        scores = torch.zeros(len(calls))
        for k in range(FOLDS):
            inside = fold != k
            if float(calls[inside].sum()) in (0.0, float(inside.sum())):  # a fold without one kind
                return None
            scores[~inside] = Head.fit(hidden[inside], calls[inside], l2).probability(hidden[~inside])
        accuracy = balanced_accuracy(scores, calls)
        if best is None or accuracy > best[1]:
            best = (l2, accuracy)
    return best


def calibrate(predictor: Any, rows: Sequence[dict[str, Any]], out_dir: Path,
              train_rows: Sequence[dict[str, Any]] = (),
              inputs: Sequence[str] = ("adapter",), *, call_head: bool = True,
              more_head: bool = True) -> dict[str, Any]:
    """Measure p(call) on the validation turns with `predictor`, save the chosen threshold
    in `out_dir`, and return what was measured (for the training summary). With
    `train_rows`, a decision head is fitted on their turns (on the hidden states `inputs`
    names: `predictor.base_hidden` gives the base model's) and kept if it does better on
    the validation turns (`call_head`), and likewise one on their call ends (`more_head`,
    `calibrate_more`).

    Every turn counts, also those grounded identifiers (grounding.py) would send to a text
    answer anyway: chosen on the validation split, that threshold scored 27 of 64 items
    with grounding, one chosen on the remaining turns only 23 (README)."""
    import torch

    points = decision_points(rows)
    trigger_id = predictor.trigger_id(TRIGGER)
    probs, greedy, hidden = predictor.first_token_stats([p for p, _ in points], trigger_id, hidden=True)
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
    evidence.update(threshold=threshold, calibrated_right=right, score="trigger",
                    trigger_threshold=threshold, trigger_right=right)
    decision = Decision(TRIGGER, threshold)
    train_points = decision_points(train_rows if call_head else ())
    train_calls = torch.tensor([float(c) for _, c in train_points])
    chosen_l2 = None
    if enough_for_head(train_calls):
        _, _, train_hidden = predictor.first_token_stats([p for p, _ in train_points], trigger_id, hidden=True)
        train_hidden = head_input(inputs, train_hidden, partial(predictor.base_hidden, [p for p, _ in train_points]))
        hidden = head_input(inputs, hidden, partial(predictor.base_hidden, [p for p, _ in points]))
        chosen_l2 = choose_head(train_hidden, train_calls)
    if not call_head:
        evidence["head"] = "not fitted (training.decision_head: false)"
    elif chosen_l2 is None:
        evidence["head"] = f"fewer than {FOLDS} training turns of each kind (call / answer) in every fold"
    else:
        l2, cv_accuracy = chosen_l2
        head, head_threshold, head_right = fit_head(train_hidden, train_calls, l2, hidden,
                                                    [c for _, c in points], inputs)
        evidence["head"] = {"inputs": list(inputs), "l2": l2, "cv_balanced_accuracy": round(cv_accuracy, 4),
                            "training_turns": len(train_points), "threshold": head_threshold,
                            "right": head_right}
        if head_right > right:
            decision = Decision(TRIGGER, head_threshold, head)
            evidence.update(threshold=head_threshold, calibrated_right=head_right, score="head")
    more, evidence["more"] = calibrate_more(predictor, rows, train_rows if more_head else ())
    decision = replace(decision, more=more)
    decision.save(out_dir, evidence)
    return evidence


def calibrate_more(predictor: Any, rows: Sequence[dict[str, Any]],
                   train_rows: Sequence[dict[str, Any]] = ()) -> tuple[More | None, dict[str, Any]]:
    """The another-call-or-end decision after each call, chosen on the validation turns'
    call ends (teacher-forced: the expected calls so far), and what was measured. With
    `train_rows`, a head is fitted on their call ends (the adapter's hidden state only: at
    decoding time the base model would have to read every call written) and kept if it
    does better on the validation call ends. None when either kind (another call / the
    end) has fewer than `MIN_TURNS` validation call ends."""
    import torch

    token = predictor.trigger_id(CONTINUE)
    points = call_end_points(rows)
    probs, hidden = predictor.call_end_stats([(r, j) for r, j, _ in points], token)
    keep = ~torch.isnan(probs)
    wanted = [m for (_, _, m), k in zip(points, keep.tolist(), strict=True) if k]
    scored = list(zip(probs[keep].tolist(), wanted, strict=True))
    evidence: dict[str, Any] = {"call_ends": len(scored), "another": sum(wanted),
                                "greedy_right": sum((p >= 0.5) == m for p, m in scored)}
    chosen = choose_threshold(scored)
    if chosen is None:
        evidence["why"] = f"fewer than {MIN_TURNS} validation call ends of each kind (another call / the end)"
        return None, evidence
    threshold, right = chosen
    evidence.update(score="token", threshold=threshold, right=right, token_threshold=threshold, token_right=right)
    more = More(threshold)
    train_points = call_end_points(train_rows)
    if not train_points:
        return more, evidence
    train_probs, train_hidden = predictor.call_end_stats([(r, j) for r, j, _ in train_points], token)
    train_keep = ~torch.isnan(train_probs)
    labels = torch.tensor([float(m) for (_, _, m), k in zip(train_points, train_keep.tolist(), strict=True) if k])
    chosen_l2 = choose_head(train_hidden[train_keep], labels)
    if chosen_l2 is None:
        evidence["head"] = f"fewer than {FOLDS} training call ends of each kind in every fold"
        return more, evidence
    l2, cv_accuracy = chosen_l2
    head, head_threshold, head_right = fit_head(train_hidden[train_keep], labels, l2, hidden[keep], wanted)
    evidence["head"] = {"l2": l2, "cv_balanced_accuracy": round(cv_accuracy, 4),
                        "training_call_ends": len(labels), "threshold": head_threshold, "right": head_right}
    if head_right > right:
        more = More(head_threshold, head)
        evidence.update(score="head", threshold=head_threshold, right=head_right)
    return more, evidence


def fit_head(train_hidden: Any, train_labels: Any, l2: float, hidden: Any, wanted: Sequence[bool],
             inputs: Sequence[str] = ("adapter",)) -> tuple[Head, float, int]:
    """A head fitted on the training points, and the threshold chosen on the validation
    points (`hidden`, whose kinds are `wanted`) with how many it classifies right."""
    head = Head.fit(train_hidden, train_labels, l2, inputs)
    scored = list(zip(head.probability(hidden).tolist(), wanted, strict=True))
    threshold, right = choose_threshold(scored)  # type: ignore[misc]
    return head, threshold, right


def head_input(inputs: Sequence[str], adapter: Any, base: Callable[[], Any]) -> Any:
    """A head's input (`Head.inputs`): the adapter's final hidden states and the base
    model's, in the order `inputs` names them, concatenated; `base()` is called only when
    it is named (the base model's pass is not free)."""
    import torch

    return torch.cat([adapter if name == "adapter" else base() for name in inputs], 1)
