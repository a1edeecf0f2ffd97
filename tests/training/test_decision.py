"""The call-or-answer threshold: chosen on validation turns, applied by the predictor."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from mcptrain.training.decision import (
    CONTINUE,
    DECISION_FILE,
    FOLDS,
    L2_GRID,
    TRIGGER,
    Decision,
    Head,
    More,
    balanced_accuracy,
    calibrate,
    call_end_points,
    choose_head,
    choose_threshold,
    decision_points,
    enough_for_head,
    stale_decision,
)
from mcptrain.training.grammar import END
from mcptrain.training.predictor import LocalPredictor
from mcptrain.training.prompt import PROMPT_REVISION
from tests.training.tiny import make_row, multi_turn_row


def answer_row(i: int) -> dict:  # type: ignore[type-arg]
    row = make_row(i)
    row["id"] = f"chat-{i}"
    row["messages"] = [*row["messages"][:1], {"role": "user", "content": "hello there"},
                       {"role": "assistant", "content": "Hello! How can I help?"}]
    return row


def opened_calls(predictor: LocalPredictor, prompts: list[dict],  # type: ignore[type-arg]
                 decision: Decision) -> tuple[list[bool], list[str]]:
    """(whether each output starts with the trigger's first token, the outputs) under `decision`."""
    trigger = predictor.trigger_id(decision.trigger)
    predictor.decision, predictor._trigger = decision, trigger
    try:
        outputs = predictor.predict(prompts)
    finally:
        predictor.decision = None
    return [predictor.tokenizer(o, add_special_tokens=False)["input_ids"][:1] == [trigger] for o in outputs], outputs


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
        firsts, outputs = opened_calls(predictor, prompts, Decision(TRIGGER, threshold))
        assert all(f == first_is_trigger for f in firsts)
        if not first_is_trigger:  # banned for the whole turn, not just its first token
            assert all(TRIGGER not in o for o in outputs)
    assert len(set(probs)) > 1


def test_no_file_when_a_kind_is_missing(predictor: LocalPredictor, tmp_path: Path) -> None:
    (tmp_path / DECISION_FILE).write_text('{"trigger": "<tool_call>", "threshold": 0.5}')
    evidence = calibrate(predictor, [make_row(i) for i in range(4)], tmp_path)
    assert evidence["threshold"] is None and "validation turns" in evidence["why"]
    assert not (tmp_path / DECISION_FILE).exists()  # a stale threshold is not left behind


def separable(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """n points in 6 dimensions, calls where the first coordinate is positive."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 6, generator=g) * torch.tensor([1.0, 5, 5, 5, 5, 5])
    return x, (x[:, 0] > 0).float()


def test_head_learns_a_direction_the_trigger_does_not_see() -> None:
    x, y = separable(200)
    head = Head.fit(x, y, 0.01)
    test_x, test_y = separable(100, seed=1)
    assert balanced_accuracy(head.probability(test_x), test_y) > 0.9
    assert abs(head.weight[0]) > max(abs(w) for w in head.weight[1:])


def test_head_needs_enough_turns_of_each_kind() -> None:
    x, y = separable(40)
    few = y.clone()
    few[few == 0] = 1.0
    few[: FOLDS - 1] = 0.0  # four answer turns: cross-validation cannot run
    assert not enough_for_head(few) and choose_head(x, few) is None
    l2, accuracy = choose_head(x, y)  # type: ignore[misc]
    assert l2 in L2_GRID and 0.5 < accuracy <= 1.0


def test_decision_with_a_head_round_trips(tmp_path: Path) -> None:
    x, y = separable(50)
    decision = Decision(TRIGGER, 0.4, Head.fit(x, y, 0.1))
    decision.save(tmp_path, {"turns": 50})
    loaded = Decision.load(tmp_path)
    assert loaded is not None and loaded.head is not None and loaded.threshold == 0.4
    assert torch.allclose(loaded.head.probability(x), decision.head.probability(x))  # type: ignore[union-attr]
    legacy = json.loads((tmp_path / DECISION_FILE).read_text())
    del legacy["head"]["inputs"]  # written before heads could read the base model
    (tmp_path / DECISION_FILE).write_text(json.dumps(legacy))
    assert Decision.load(tmp_path).head.inputs == ("adapter",)  # type: ignore[union-attr]
    Decision(TRIGGER, 0.5).save(tmp_path, {})  # an older file, without a head
    assert Decision.load(tmp_path) == Decision(TRIGGER, 0.5)


def test_hidden_states_are_what_the_output_layer_reads(predictor: LocalPredictor) -> None:
    rows = [make_row(i) for i in range(3)] + [answer_row(4)]
    trigger = predictor.trigger_id(TRIGGER)
    probs, _, hidden = predictor.first_token_stats(rows, trigger, hidden=True)
    assert hidden.shape == (4, predictor.model.config.hidden_size)
    with torch.no_grad():
        logits = predictor.model.get_output_embeddings()(hidden)
    assert torch.allclose(logits.softmax(-1)[:, trigger], torch.tensor(probs), atol=1e-5)
    alone = torch.cat([predictor.first_token_stats([r], trigger, hidden=True)[2] for r in rows])
    assert torch.allclose(alone, hidden, atol=1e-4)  # padding in a batch changes nothing


def test_calibrate_fits_a_head_on_training_turns_and_the_predictor_obeys_it(
        predictor: LocalPredictor, tmp_path: Path) -> None:
    val = [make_row(i) for i in range(4)] + [answer_row(i) for i in range(3)]
    train = [make_row(10 + i) for i in range(8)] + [answer_row(20 + i) for i in range(6)]
    evidence = calibrate(predictor, val, tmp_path, train)
    head = evidence["head"]
    assert isinstance(head, dict) and head["training_turns"] == 14 and head["l2"] in L2_GRID
    assert evidence["trigger_right"] >= 4  # the trigger's own threshold is always recorded
    kept = Decision.load(tmp_path)
    assert kept is not None and (kept.head is not None) == (evidence["score"] == "head")
    assert evidence["calibrated_right"] == max(head["right"], evidence["trigger_right"])

    prompts = [p for p, _ in decision_points(val)]
    width = predictor.model.config.hidden_size
    for bias, first_is_trigger in ((50.0, True), (-50.0, False)):  # the head alone decides
        always = Head([0.0] * width, [1.0] * width, [0.0] * width, bias)
        firsts, _ = opened_calls(predictor, prompts, Decision(TRIGGER, 0.5, always))
        assert all(f == first_is_trigger for f in firsts)


def test_calibrate_without_enough_training_turns_keeps_the_trigger(
        predictor: LocalPredictor, tmp_path: Path) -> None:
    val = [make_row(i) for i in range(4)] + [answer_row(i) for i in range(3)]
    evidence = calibrate(predictor, val, tmp_path, [make_row(i) for i in range(6)] + [answer_row(9)])
    assert evidence["score"] == "trigger" and "training turns" in evidence["head"]
    assert Decision.load(tmp_path) == Decision(TRIGGER, evidence["threshold"])


def test_calibrate_with_the_head_off_keeps_the_trigger_and_says_why(
        predictor: LocalPredictor, tmp_path: Path) -> None:
    """`training.decision_head: false`: enough training turns for a head, none fitted, and
    the evidence names the setting, not a shortage of turns."""
    val = [make_row(i) for i in range(4)] + [answer_row(i) for i in range(3)]
    train = [make_row(10 + i) for i in range(8)] + [answer_row(20 + i) for i in range(6)]
    evidence = calibrate(predictor, val, tmp_path, train, call_head=False)
    assert evidence["score"] == "trigger" and evidence["head"] == "not fitted (training.decision_head: false)"
    kept = Decision.load(tmp_path)
    assert kept is not None and kept.head is None and kept.threshold == evidence["threshold"]


@pytest.fixture(scope="module")
def adapted(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> LocalPredictor:
    """The tiny model with a random (non-zero) LoRA adapter, so its states differ from the base model's."""
    from peft import LoraConfig, get_peft_model

    from mcptrain.training.model import load_model

    folder = tmp_path_factory.mktemp("adapter")
    torch.manual_seed(0)
    get_peft_model(load_model(str(tiny_model)), LoraConfig(
        r=4, lora_alpha=16, target_modules=["q_proj", "v_proj", "down_proj"], init_lora_weights=False,
    )).save_pretrained(folder)
    return LocalPredictor(str(tiny_model), folder, batch_size=4, max_new_tokens=8, precision="fp32",
                          constrained=False, calibrated=False)


def test_base_hidden_is_the_base_models_state(adapted: LocalPredictor, predictor: LocalPredictor) -> None:
    rows = [make_row(i) for i in range(3)] + [answer_row(4)]
    trigger = adapted.trigger_id(TRIGGER)
    base = adapted.base_hidden(rows)
    assert torch.allclose(base, predictor.first_token_stats(rows, trigger, hidden=True)[2], atol=1e-5)
    assert not torch.allclose(base, adapted.first_token_stats(rows, trigger, hidden=True)[2], atol=1e-3)


def test_a_head_on_both_states_is_fitted_saved_and_fed_each_state(adapted: LocalPredictor, tmp_path: Path) -> None:
    val = [make_row(i) for i in range(4)] + [answer_row(i) for i in range(3)]
    train = [make_row(10 + i) for i in range(8)] + [answer_row(20 + i) for i in range(6)]
    evidence = calibrate(adapted, val, tmp_path, train, ("adapter", "base"))
    assert isinstance(evidence["head"], dict) and evidence["head"]["inputs"] == ["adapter", "base"]
    width = adapted.model.config.hidden_size
    x, y = separable(40)
    fitted = Head.fit(torch.cat([x, x], 1), y, 0.1, ("adapter", "base"))
    Decision(TRIGGER, 0.5, fitted).save(tmp_path, {})
    loaded = Decision.load(tmp_path)
    assert loaded is not None and loaded.head is not None and loaded.head.inputs == ("adapter", "base")

    # The predictor decides with the adapter's state in the first half, the base model's in the second.
    prompts = [p for p, _ in decision_points(val)]
    own = adapted.first_token_stats(prompts, adapted.trigger_id(TRIGGER), hidden=True)[2]
    base = adapted.base_hidden(prompts)
    k = next(k for k in range(width) if ((own[:, k] > 0) != (base[:, k] > 0)).any()
             and 0 < int((base[:, k] > 0).sum()) < len(prompts))
    for half, state in ((0, own), (1, base)):
        weight = [0.0] * (2 * width)
        weight[half * width + k] = 50.0
        head = Head([0.0] * 2 * width, [1.0] * 2 * width, weight, 0.0, ("adapter", "base"))
        firsts, _ = opened_calls(adapted, prompts, Decision(TRIGGER, 0.5, head))
        assert firsts == (state[:, k] > 0).tolist()


def parallel_row(i: int) -> dict:  # type: ignore[type-arg]
    """Two calls in one turn: the weather in two cities."""
    row = make_row(3 * i, kind=0)
    second = make_row(3 * i + 1, kind=0)["messages"][2]["tool_calls"][0]
    row["id"] = row["source_id"] = f"par-{i}"
    row["category"] = "parallel"
    row["messages"][2]["tool_calls"].append(second)
    return row


def test_call_end_points_mark_every_call_but_a_turns_last() -> None:
    points = call_end_points([parallel_row(0), make_row(1), multi_turn_row(), answer_row(2)])
    assert [(j, more) for _, j, more in points] == [(0, True), (1, False), (0, False), (0, False)]
    assert all(p["messages"][-1]["role"] == "assistant" for p, _, _ in points)
    assert len(points[3][0]["messages"]) == 3  # the multi-turn row cut after its calling turn


def test_call_end_stats_read_the_model_after_each_expected_call(predictor: LocalPredictor) -> None:
    """Teacher-forced: the prompt, then the turn's calls up to call j's end tag, tokenised as
    in training; p(another) is the continue token's share against the end of turn."""
    from mcptrain.training.prompt import segments

    points = [(p, j) for p, j, _ in call_end_points([parallel_row(0), make_row(1)])]
    token = predictor.trigger_id(CONTINUE)
    more, hidden = predictor.call_end_stats(points, token)
    assert hidden.shape == (3, predictor.model.config.hidden_size)
    row = points[0][0]
    shared, rest = predictor.encode({**row, "messages": row["messages"][:-1]})
    turn = [s for s in segments(predictor.template, row) if s.trained][-1].text
    first_end = turn.index(END) + len(END)
    ids = list(shared) + rest + predictor.tokenizer(turn[:first_end], add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        dist = predictor.model(input_ids=torch.tensor([ids])).logits[0, -1].softmax(-1)
    expected = dist[token] / (dist[token] + dist[predictor.stop_id])
    if not torch.isnan(more[0]):  # the tiny tokenizer may merge the end tag with what follows
        assert float(more[0]) == pytest.approx(float(expected), abs=1e-4)
    assert ((more[~torch.isnan(more)] >= 0) & (more[~torch.isnan(more)] <= 1)).all()


def test_calibrate_saves_the_another_call_decision(predictor: LocalPredictor, tmp_path: Path) -> None:
    val = [parallel_row(i) for i in range(3)] + [make_row(i) for i in range(4)] + [answer_row(i) for i in range(3)]
    train = [parallel_row(10 + i) for i in range(6)] + [make_row(10 + i) for i in range(8)] + [
        answer_row(20 + i) for i in range(6)]
    evidence = calibrate(predictor, val, tmp_path, train)
    more = evidence["more"]
    if "why" in more:  # every call end fell inside a token of the tiny tokenizer
        pytest.skip(more["why"])
    assert more["another"] == 3 and more["call_ends"] <= 10
    assert more["right"] >= more["token_right"] >= max(more["another"], more["call_ends"] - more["another"])
    saved = Decision.load(tmp_path)
    assert saved is not None and saved.more is not None and saved.more.threshold == pytest.approx(more["threshold"])
    assert (saved.more.head is not None) == (more["score"] == "head")


def test_a_decision_with_another_call_round_trips(tmp_path: Path) -> None:
    x, y = separable(50)
    decision = Decision(TRIGGER, 0.4, None, More(0.3, Head.fit(x, y, 0.1)))
    decision.save(tmp_path, {})
    loaded = Decision.load(tmp_path)
    assert loaded is not None and loaded.more is not None and loaded.more.threshold == 0.3
    assert torch.allclose(loaded.more.head.probability(x), decision.more.head.probability(x))  # type: ignore[union-attr]
    Decision(TRIGGER, 0.5).save(tmp_path, {})  # an older file: greedy after every call
    assert Decision.load(tmp_path) == Decision(TRIGGER, 0.5) and Decision.load(tmp_path).more is None  # type: ignore[union-attr]


def test_the_predictor_ends_or_continues_the_turn_as_the_decision_says(
        predictor: LocalPredictor, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where a call closes (here: after the first token, whatever it was), the decision writes
    the continue tokens or ends the turn; the token's share or the head decides."""
    prompts = [p for p, _ in decision_points([make_row(i) for i in range(3)])]
    monkeypatch.setattr(predictor, "_closed_call", lambda tokens: len(tokens) == 1)
    width = predictor.model.config.hidden_size

    def outputs(more: More | None) -> list[str]:
        predictor.decision = Decision(TRIGGER, 0.0, None, more)
        predictor._trigger = predictor.trigger_id(TRIGGER)
        try:
            return predictor.predict(prompts)
        finally:
            predictor.decision = None

    free = outputs(None)
    ended = outputs(More(1.01))
    for whole, cut in zip(free, ended, strict=True):
        assert whole.startswith(cut) and len(cut) < len(whole) and CONTINUE not in cut
    for more in (More(0.0), More(0.5, Head([0.0] * width, [1.0] * width, [0.0] * width, 50.0))):
        for cut, out in zip(ended, outputs(more), strict=True):
            assert out.startswith(cut + CONTINUE), (cut, out)
    assert outputs(More(0.5, Head([0.0] * width, [1.0] * width, [0.0] * width, -50.0))) == ended


def test_an_end_tag_inside_a_string_value_closes_no_call(predictor: LocalPredictor) -> None:
    """A model once wrote `"message": "Your subscription renews on 1 April.</tool_call>` and
    again and again: the tag was the string's text, the call still open (and no place to
    decide on another call)."""
    def ids(text: str) -> list[int]:
        return list(predictor.tokenizer(text, add_special_tokens=False)["input_ids"])

    inside = ids('<tool_call>{"name": "send", "arguments": {"message": "renews on 1 April.</tool_call>')
    assert predictor._in_call(inside) and not predictor._closed_call(inside)
    closed = ids('<tool_call>{"name": "send", "arguments": {"message": "renews on 1 April."}}</tool_call>')
    assert not predictor._in_call(closed)
    assert predictor._closed_call(closed) == (closed[-1] in predictor._closing_ids)
    assert predictor._closed_call(closed) or ids(">")[-1] not in predictor._closing_ids
    assert predictor._in_string(inside) and not predictor._in_string(closed)
    assert not predictor._in_string(ids('<tool_call>{"name": "send", "arguments": {"message": "say \\"hi\\" now", '))
    assert all("</" in predictor.tokenizer.convert_ids_to_tokens(i) for i in predictor._tag_list)


def test_a_decision_from_an_older_prompt_encoding_is_stale(tmp_path: Path) -> None:
    assert not stale_decision(tmp_path)  # no file: nothing to calibrate again
    Decision(TRIGGER, 0.5).save(tmp_path, {"turns": 4})
    assert not stale_decision(tmp_path)
    data = json.loads((tmp_path / DECISION_FILE).read_text(encoding="utf-8"))
    assert data["prompt_revision"] == PROMPT_REVISION
    del data["prompt_revision"]  # written before the revisions: later steps asked as the first
    (tmp_path / DECISION_FILE).write_text(json.dumps(data), encoding="utf-8")
    assert stale_decision(tmp_path)
    assert Decision.load(tmp_path) == Decision(TRIGGER, 0.5)  # still readable, with a warning where loaded
