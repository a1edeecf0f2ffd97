"""The call-or-answer threshold: chosen on validation turns, applied by the predictor."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcptrain.training.decision import (
    DECISION_FILE,
    TRIGGER,
    Decision,
    calibrate,
    choose_threshold,
    decision_points,
)
from mcptrain.training.predictor import LocalPredictor
from tests.training.tiny import make_row, multi_turn_row


def answer_row(i: int) -> dict:  # type: ignore[type-arg]
    row = make_row(i)
    row["id"] = f"chat-{i}"
    row["messages"] = [*row["messages"][:1], {"role": "user", "content": "hello there"},
                       {"role": "assistant", "content": "Hello! How can I help?"}]
    return row


def test_decision_points_cover_every_assistant_turn() -> None:
    points = decision_points([make_row(0), multi_turn_row(), answer_row(1)])
    assert [c for _, c in points] == [True, True, False, False]
    assert all(p["messages"][-1]["role"] != "assistant" for p, _ in points)
    assert points[2][0]["messages"][-1]["role"] == "tool"  # the step after a tool result


def test_threshold_separates_the_turns_it_can() -> None:
    scored = [(0.9, True), (0.8, True), (0.7, True), (0.3, False), (0.6, False), (0.85, False)]
    threshold, right = choose_threshold(scored)  # type: ignore[misc]
    assert right == 5 and 0.6 < threshold <= 0.7  # 0.85 stays wrong: no threshold fixes it
    assert threshold == pytest.approx(0.65)  # the middle of the gap, not its edge


def test_threshold_needs_both_kinds() -> None:
    assert choose_threshold([(0.9, True), (0.8, True), (0.2, False)]) is None
    assert choose_threshold([(0.9, True), (0.1, False), (0.2, False)]) is None


def test_threshold_may_send_everything_one_way() -> None:
    # Answers more likely to call than calls: the best rule is "always call" (4 of 6 right).
    scored = [(0.2, True), (0.3, True), (0.25, True), (0.4, True), (0.9, False), (0.8, False)]
    threshold, right = choose_threshold(scored)  # type: ignore[misc]
    assert right == 4 and threshold <= 0.2


@pytest.fixture(scope="module")
def predictor(tiny_model: Path) -> LocalPredictor:
    return LocalPredictor(str(tiny_model), batch_size=4, max_new_tokens=8, precision="fp32",
                          constrained=False, calibrated=False)


def test_calibrate_writes_the_threshold_and_the_predictor_obeys_it(
        predictor: LocalPredictor, tmp_path: Path) -> None:
    rows = [make_row(i) for i in range(4)] + [answer_row(i) for i in range(3)]
    evidence = calibrate(predictor, rows, tmp_path)
    assert evidence["turns"] == 7 and evidence["call_turns"] == 4 and evidence["answer_turns"] == 3
    saved = Decision.load(tmp_path)
    assert saved is not None and saved.trigger == TRIGGER
    assert saved.threshold == pytest.approx(evidence["threshold"])

    trigger = predictor.trigger_id(TRIGGER)
    prompts = [p for p, _ in decision_points(rows)]
    probs, _ = predictor.first_token_stats(prompts, trigger)
    # A threshold of 0: every turn opens a call; above 1: none does.
    for threshold, first_is_trigger in ((0.0, True), (1.01, False)):
        predictor.decision, predictor._trigger = Decision(TRIGGER, threshold), trigger
        try:
            outputs = predictor.predict(prompts)
        finally:
            predictor.decision, predictor._trigger = None, None
        firsts = [predictor.tokenizer(o, add_special_tokens=False)["input_ids"][:1] == [trigger] for o in outputs]
        assert all(f == first_is_trigger for f in firsts)
        if not first_is_trigger:  # banned for the whole turn, not just its first token
            assert all(TRIGGER not in o for o in outputs)
    assert len(set(probs)) > 1


def test_no_file_when_a_kind_is_missing(predictor: LocalPredictor, tmp_path: Path) -> None:
    (tmp_path / DECISION_FILE).write_text('{"trigger": "<tool_call>", "threshold": 0.5}')
    evidence = calibrate(predictor, [make_row(i) for i in range(4)], tmp_path)
    assert evidence["threshold"] is None and "validation turns" in evidence["why"]
    assert not (tmp_path / DECISION_FILE).exists()  # a stale threshold is not left behind
