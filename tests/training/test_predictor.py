from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mcptrain.training.predictor import (
    LocalPredictor,
    OpenAIPredictor,
    PromptPredictor,
    hermes_calls,
)
from mcptrain.training.prompt import IGNORE_INDEX, encode_row, render
from tests.training.openai_emulator import running
from tests.training.tiny import make_row, multi_turn_row, reference_generation

ROWS = [make_row(i) for i in range(7)] + [
    {**multi_turn_row(), "messages": multi_turn_row()["messages"][:4]}]  # a later step


@pytest.fixture(scope="module")
def predictor(tiny_model: Path) -> LocalPredictor:
    return LocalPredictor(str(tiny_model), batch_size=3, max_new_tokens=12, precision="fp32")


def test_batched_generation_equals_one_row_at_a_time(predictor: LocalPredictor) -> None:
    batched = predictor.predict(ROWS)
    predictor.batch_size = 1
    try:
        single = predictor.predict(ROWS)
    finally:
        predictor.batch_size = 3
    assert batched == single
    assert len(set(batched)) > 1  # the outputs differ per prompt: the check has teeth


def test_prefix_cache_equals_plain_generation(predictor: LocalPredictor) -> None:
    """The shared system-turn cache changes nothing: compare with generate() on the whole prompt."""
    for row in ROWS[:3]:
        assert predictor.predict([row]) == [reference_generation(predictor, row, 12)]


def test_shared_prefix_attention_equals_the_expanded_cache(predictor: LocalPredictor) -> None:
    """Decoding against one shared tool-block cache gives what the expanded cache gave,
    first-token probabilities included."""
    assert predictor.prefix_attention  # the tiny Llama takes the shared-prefix path
    shared = predictor.predict(ROWS)
    shared_probs = predictor.first_token_stats(ROWS, 5)[0]
    predictor.prefix_attention = False
    try:
        expanded = predictor.predict(ROWS)
        expanded_probs = predictor.first_token_stats(ROWS, 5)[0]
    finally:
        predictor.prefix_attention = True
    assert shared == expanded
    assert shared_probs == pytest.approx(expanded_probs, abs=1e-5)


def test_a_later_steps_prompt_holds_its_history(predictor: LocalPredictor) -> None:
    # Each step of a multi_turn row is asked with the true history before it: the earlier
    # calls and their results are in the prompt, after the shared system turn.
    row = multi_turn_row()
    steps = [{**row, "messages": row["messages"][:n]} for n in (2, 4)]
    encoded = [predictor.encode(step) for step in steps]
    assert encoded[0][0] == encoded[1][0] and encoded[0][0]  # one shared system turn
    for step, (shared, rest) in zip(steps, encoded, strict=True):
        text = render(predictor.template, step["messages"], step["tools"], add_generation_prompt=True)
        assert predictor.tokenizer.decode([*shared, *rest]) == text
    assert len(encoded[1][1]) > len(encoded[0][1])
    # ... tokenised as training tokenised the whole row, piece by piece: the ids before each turn
    enc = encode_row(predictor.tokenizer, predictor.template, row)
    starts = [i for i, label in enumerate(enc.labels)
              if label != IGNORE_INDEX and (i == 0 or enc.labels[i - 1] == IGNORE_INDEX)]
    assert [[*shared, *rest] for shared, rest in encoded] == [enc.input_ids[:start] for start in starts]


def test_adapter_and_template_come_from_the_adapter_dir(tiny_model: Path, tmp_path: Path) -> None:
    from mcptrain.specs.models import ProjectSpec
    from mcptrain.training.lora import train_lora

    p = ProjectSpec.model_validate({"apiVersion": "mcptrain/v1", "kind": "Project", "name": "t",
                                    "base_model": str(tiny_model), "training": {"max_steps": 1}})
    train_lora(p, ROWS[:4], [], tmp_path / "out", "run", runner="inline")
    (tmp_path / "out" / "chat_template.jinja").write_text(
        "{% for m in messages %}{{ m.role }}: {{ m.content }}<|im_end|>{% endfor %}"
        "{% if add_generation_prompt %}assistant: {% endif %}", encoding="utf-8")
    local = LocalPredictor(str(tiny_model), tmp_path / "out", max_new_tokens=4, precision="fp32")
    assert local.template.startswith("{% for m in messages %}{{ m.role }}")
    assert len(local.predict(ROWS[:2])) == 2


class Recorder:
    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def predict(self, rows: list[dict[str, Any]]) -> list[str]:
        self.rows = rows
        return ["x"] * len(rows)


def test_prompt_predictor_swaps_the_system_prompt() -> None:
    inner = Recorder()
    artifact = {"system_prompts": {"demo": "Use tools well."}, "default_system_prompt": "Default."}
    other = {**make_row(1), "service": "other"}
    assert PromptPredictor(inner, artifact).predict([make_row(0), other]) == ["x", "x"]
    assert inner.rows[0]["messages"][0] == {"role": "system", "content": "Use tools well."}
    assert inner.rows[1]["messages"][0] == {"role": "system", "content": "Default."}
    assert inner.rows[0]["messages"][1:] == make_row(0)["messages"][1:]


def test_prompt_predictor_keeps_the_rows_context_and_instructions() -> None:
    inner = Recorder()
    artifact = {"system_prompts": {"demo": "Use tools well."}, "default_system_prompt": "Default."}
    row = make_row(0)
    row["messages"][0] = {"role": "system", "content": "Default.\n\nToday is Thursday, 2025-06-05.\n\n# demo\nBe kind."}
    PromptPredictor(inner, artifact).predict([row])
    assert inner.rows[0]["messages"][0]["content"] == (
        "Use tools well.\n\nToday is Thursday, 2025-06-05.\n\n# demo\nBe kind.")


def _tool_reply(body: dict[str, Any]) -> dict[str, Any]:
    return {"tool_calls": [{"id": "call_9", "type": "function", "function": {
        "name": "get_weather", "arguments": json.dumps({"city": "Paris"})}}]}


def test_openai_predictor_native_tools() -> None:
    with running() as (emu, url):
        emu.chat = _tool_reply
        p = OpenAIPredictor("my-model", base_url=url, api_key="k")
        out = p.predict([make_row(0), ROWS[-1]])
    assert out == ['<tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call>'] * 2
    first, later = sorted(emu.chat_requests, key=lambda r: len(r["messages"]))
    assert first["tools"] == make_row(0)["tools"] and first["temperature"] == 0
    assert [m["role"] for m in first["messages"]] == ["system", "user"]
    assert [m["role"] for m in later["messages"]] == ["system", "user", "assistant", "tool"]
    assert later["messages"][3]["tool_call_id"] == later["messages"][2]["tool_calls"][0]["id"]


def test_openai_predictor_tools_in_prompt() -> None:
    with running() as (emu, url):
        emu.chat = lambda body: {"content": "Which city?"}
        p = OpenAIPredictor("my-model", base_url=url, api_key="k", tools="prompt")
        assert p.predict([make_row(0)]) == ["Which city?"]
    (req,) = emu.chat_requests
    assert "tools" not in req
    system = req["messages"][0]["content"]
    assert system.startswith("You call tools.\n\n# Tools\n") and '{"name":"get_weather"' in system


def test_hermes_calls() -> None:
    assert hermes_calls([("a", {"x": 1}), ("b", '{"y": 2}'), ("c", "not json")]) == (
        '<tool_call>{"name": "a", "arguments": {"x": 1}}</tool_call>\n'
        '<tool_call>{"name": "b", "arguments": {"y": 2}}</tool_call>\n'
        '<tool_call>{"name": "c", "arguments": not json}</tool_call>')


def test_make_predictor_per_backend(tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mcptrain.errors import ConfigError
    from mcptrain.specs.models import ProjectSpec
    from mcptrain.training.backends import make_predictor

    def project(backend: str) -> ProjectSpec:
        return ProjectSpec.model_validate({
            "apiVersion": "mcptrain/v1", "kind": "Project", "name": "t", "backend": backend,
            "base_model": str(tiny_model), "evaluation": {"batch_size": 5, "max_new_tokens": 9},
            "openai": {"base_url": "http://127.0.0.1:9/v1"}})

    base = make_predictor(project("lora"), None)
    assert isinstance(base, LocalPredictor) and base.adapter_dir is None
    assert (base.batch_size, base.max_new_tokens) == (5, 9)
    (tmp_path / "prompt.json").write_text(json.dumps(
        {"system_prompts": {}, "default_system_prompt": "S"}), encoding="utf-8")
    assert isinstance(make_predictor(project("prompt"), tmp_path), PromptPredictor)
    (tmp_path / "openai_job.json").write_text(json.dumps({"job_id": "j", "fine_tuned_model": None}))
    with pytest.raises(ConfigError, match="names no fine-tuned model yet"):
        make_predictor(project("openai"), tmp_path)
    (tmp_path / "openai_job.json").write_text(json.dumps({"job_id": "j", "fine_tuned_model": "ft:x"}))
    monkeypatch.setenv("OPENAI_API_KEY", "k")
    p = make_predictor(project("openai"), tmp_path)
    assert isinstance(p, OpenAIPredictor) and p.model == "ft:x" and p.max_tokens == 9
    # The base model of an OpenAI fine-tune is the model it was tuned from, on the same endpoint.
    b = make_predictor(project("openai"), None)
    assert isinstance(b, OpenAIPredictor) and b.model == "gpt-4.1-mini-2025-04-14"


def test_repetition_loops_are_recognised() -> None:
    from mcptrain.training.predictor import loop_period

    assert loop_period([1, 2, 3] + [7] * 4) == 1
    assert loop_period([9] + [4, 5, 6] * 4) == 3
    assert loop_period([4, 5, 6] * 3) is None  # three times may be a list; four is a loop
    assert loop_period(list(range(40))) is None
    item = list(range(100, 118))  # an 18-token array item written over and over
    assert loop_period([1, 2] + item * 4) == 18
    assert loop_period([1, 2] + item * 3) is None


def scripted(predictor: LocalPredictor, script: list[int], loop: list[int], exit_token: int,
             detour: int | None = None) -> Any:
    """A stand-in for the model's forward pass: it writes `script`, then goes round `loop`
    forever, with `exit_token` as its second choice (its third, after `detour`, if given)."""
    import torch

    width = int(predictor.model.config.vocab_size)
    calls = {"n": 0}

    def forward(ids: Any, *args: Any, **kwargs: Any) -> Any:
        k = calls["n"]
        calls["n"] += 1
        logits = torch.zeros((ids.shape[0], width))
        if k < len(script):
            logits[:, script[k]] = 10.0
        else:
            logits[:, exit_token] = 5.0
            if detour is not None:
                logits[:, detour] = 7.0
            logits[:, loop[(k - len(script)) % len(loop)]] = 10.0
        return logits

    return forward


def writing_an_email(tiny_model: Path, text: str, loop: str, detour: str | None = None,
                     limit_before_script_end: int | None = None) -> tuple[str, int]:
    """What the constrained predictor writes when its model opens a `find_user` call, writes
    `text` into the email string, then goes round `loop` with `"` as its next choice after
    `detour`; and how many tokens that script is."""
    from mcptrain.training.grammar import call_prefix

    p = LocalPredictor(str(tiny_model), batch_size=1, max_new_tokens=60, precision="fp32",
                       constrained=True, calibrated=False, invented_values=False)  # the script's values are made up
    encode = lambda piece: p.tokenizer(piece, add_special_tokens=False)["input_ids"]  # noqa: E731
    script = encode(call_prefix("find_user") + '{"email": "') + (encode(text) if text else [])
    if limit_before_script_end is not None:
        p.max_new_tokens = len(script) - limit_before_script_end
    p._forward = scripted(p, script, encode(loop), encode('"')[0],  # type: ignore[method-assign]
                          None if detour is None else encode(detour)[0])
    row = make_row(1, kind=1)  # find_user(email)
    return p.predict([{**row, "messages": row["messages"][:2]}])[0], len(script)


def the_call(output: str) -> Any:
    from mcptrain.training.grammar import END

    return json.loads(output[len("<tool_call>"): output.index(END)])


@pytest.mark.parametrize("breaks", [8, 0])
def test_a_loop_inside_a_call_is_broken_so_the_call_closes(
        tiny_model: Path, breaks: int, monkeypatch: pytest.MonkeyPatch) -> None:
    from mcptrain.training import predictor as module
    from mcptrain.training.grammar import END, call_prefix

    monkeypatch.setattr(module, "LOOP_BREAKS", breaks)
    output, _ = writing_an_email(tiny_model, "", "ab")
    if breaks:  # the loop inside the string is left, the string and the call are closed
        call = the_call(output)
        assert call["name"] == "find_user" and call["arguments"]["email"].startswith("abab")
    else:  # cut off inside the call: what breaking the loop prevents
        assert END not in output and output.startswith(call_prefix("find_user"))


def test_a_loop_that_takes_a_detour_when_banned_still_closes_the_call(tiny_model: Path) -> None:
    """Banning the loop's next token is not enough when the model's second choice goes round
    again by another way (a demo adapter wrote `{"quantity" : 12, ...` for `{"quantity": 12,
    ...` until the length limit): once caught looping in a call, the row may only close it."""
    output, _ = writing_an_email(tiny_model, "", "ab", detour="cd")
    # closed as soon as the loop was caught (four times round), not by a detour
    assert the_call(output) == {"name": "find_user", "arguments": {"email": "abababab"}}


@pytest.mark.parametrize("grace", [96, 0])
def test_a_call_still_open_at_the_length_limit_is_closed_not_cut(
        tiny_model: Path, grace: int, monkeypatch: pytest.MonkeyPatch) -> None:
    from mcptrain.training import predictor as module
    from mcptrain.training.grammar import END

    monkeypatch.setattr(module, "CALL_GRACE", grace)
    # the limit falls inside the string, three tokens before the script's end
    output, script = writing_an_email(tiny_model, "the quick brown fox jumps over it", " lazy dog",
                                      limit_before_script_end=3)
    if grace:
        call = the_call(output)
        assert call["name"] == "find_user" and call["arguments"]["email"].startswith("the quick")
        assert output.endswith(END)  # closed, and nothing after it
    else:
        assert END not in output and output.startswith("<tool_call>") and "the quick" in output
        assert len(output) < len("<tool_call>") + 80  # cut where the limit fell


def test_name_prior_is_the_models_own_probability_after_a_blank_request(tiny_model: Path) -> None:
    """`name_prior` holds, for every token of every offered name, the log probability the
    model gives it after a user turn of "N/A" and the call opener: the same numbers a plain
    forward pass over that whole text gives."""
    import torch

    from mcptrain.training.grammar import NAME_OPENER, call_prefix, tool_function

    p = LocalPredictor(str(tiny_model), batch_size=4, max_new_tokens=12, precision="fp32", name_calibration=1.0)
    row = ROWS[0]
    shared, _ = p.encode(row)
    with torch.no_grad():
        prior = p.name_prior(shared, p._prefill(shared), row)
    names = [tool_function(t)["name"] for t in row["tools"]]
    system = [m for m in row["messages"][:1] if m["role"] == "system"]
    _, blank = p.encode({**row, "messages": [*system, {"role": "user", "content": "N/A"}]})
    checked = 0
    for name in names:
        ids = p.tokenizer(call_prefix(name), add_special_tokens=False)["input_ids"]
        if tuple(ids[: len(p._opener)]) != p._opener:
            continue
        own = ids[len(p._opener):]
        full = [*shared, *blank, *p._opener, *own]
        with torch.no_grad():
            logp = p.model(input_ids=torch.tensor([full])).logits[0].float().log_softmax(-1)
        for k, token in enumerate(own):
            if tuple(own[:k]) in prior and token in prior[tuple(own[:k])]:
                assert prior[tuple(own[:k])][token] == pytest.approx(float(logp[len(full) - len(own) + k - 1, token]),
                                                                      abs=1e-4)
                checked += 1
    assert checked >= len(names)  # every name's first token at least
    assert len(prior[()]) == len({p.tokenizer(f'{NAME_OPENER}{n}', add_special_tokens=False)["input_ids"]
                                  [len(p._opener)] for n in names})


def test_name_adjustments_rescore_only_the_next_name_tokens(tiny_model: Path) -> None:
    """A naming row's known next tokens become log p + their adjustment and its other
    tokens fall below them all (a name is written as the table spells it); rows not writing
    a name keep their logits. Off (0), decoding is what it was."""
    import torch

    from mcptrain.training.predictor import OFF_TABLE

    logits = torch.randn(2, 20)
    logits[0, 5] = 50.0  # the model's favourite, off the table
    adjust = [{(): {3: 0.25, 7: 2.0}, (3,): {9: 0.5}}] * 2
    out = LocalPredictor._adjust_names(logits.clone(), [0, 1], [[1, 2], [1, 2, 3]], {0: 2, 1: 2}, adjust)
    logp0, logp1 = logits[0].log_softmax(-1), logits[1].log_softmax(-1)
    assert out[0, 3] == pytest.approx(float(logp0[3] + 0.25)) and out[0, 7] == pytest.approx(float(logp0[7] + 2.0))
    assert out[0, 5] == pytest.approx(float(logp0[5] - OFF_TABLE)) and int(out[0].argmax()) in (3, 7)
    assert out[1, 9] == pytest.approx(float(logp1[9] + 0.5)) and int(out[1].argmax()) == 9
    untouched = LocalPredictor._adjust_names(logits.clone(), [0, 1], [[1, 2], [1, 2, 3]], {}, adjust)
    assert torch.equal(untouched, logits)
    off = LocalPredictor(str(tiny_model), batch_size=4, max_new_tokens=12, precision="fp32")
    on = LocalPredictor(str(tiny_model), batch_size=4, max_new_tokens=12, precision="fp32", name_calibration=0.0,
                        tool_retrieval=0.0)
    assert off.predict(ROWS) == on.predict(ROWS)


def test_name_calibration_subtracts_alpha_times_the_name_prior(tiny_model: Path) -> None:
    import torch

    p = LocalPredictor(str(tiny_model), batch_size=4, max_new_tokens=12, precision="fp32", name_calibration=0.5)
    row = ROWS[0]
    shared, _ = p.encode(row)
    with torch.no_grad():
        cache = p._prefill(shared)
        prior = p.name_prior(shared, cache, row)
        adjust = p.name_adjustments(shared, cache, row)
    assert adjust.keys() == prior.keys()
    for prefix, nexts in prior.items():
        assert adjust[prefix] == pytest.approx({t: -0.5 * v for t, v in nexts.items()})


def test_a_strong_retrieval_prior_writes_the_tool_the_request_names(tiny_model: Path) -> None:
    """With a large `tool_retrieval`, a row that opens a call writes the tool whose words the
    request shares, whatever the model preferred; the adjustments along each name's
    tokens add up to its log prior probability among the offered names."""
    import math

    import torch

    from mcptrain.training.grammar import tool_function
    from mcptrain.training.retrieval import tool_scores

    beta = 50.0
    p = LocalPredictor(str(tiny_model), batch_size=4, max_new_tokens=40, precision="fp32", tool_retrieval=beta,
                       calibrated=False, invented_values=False)  # a random model's arguments are made up
    names = [tool_function(t)["name"] for t in ROWS[0]["tools"]]
    rows = [{**row, "messages": [row["messages"][0], {"role": "user", "content": f"Please {name.replace('_', ' ')}"}]}
            for row in ROWS[:1] for name in names]
    for row, name in zip(rows, names, strict=True):
        scores = tool_scores(row["tools"], row["messages"][1]["content"])
        assert max(scores, key=lambda n: scores[n]) == name
        shared, _ = p.encode(row)
        with torch.no_grad():
            adjust = p.name_adjustments(shared, None, row)
        spelled = {n: p.spelled(n) for n in names}
        total = math.log(sum(math.exp(beta * scores[n]) for n in names))
        for n, own in spelled.items():
            assert own is not None
            path = sum(adjust[own[:k]][own[k]] for k in range(len(own)))
            assert path == pytest.approx(beta * scores[n] - total, abs=1e-6)
    from mcptrain.training.grammar import structural_tag

    assert p.grammar is not None
    compiler = p.grammar.compiler

    def a_call_at_once(tools: Any) -> Any:  # the random model would rarely open a call by itself
        tag = structural_tag(list(tools or []))
        tag["format"]["at_least_one"] = True
        return compiler.compile_structural_tag(json.dumps(tag))

    p.grammar.compile = a_call_at_once  # type: ignore[method-assign]
    outputs = p.predict(rows)
    for name, out in zip(names, outputs, strict=True):
        assert out.startswith(f'<tool_call>{{"name": "{name}"'), out
    p.tool_retrieval = 0.0
    assert p.predict(rows) != outputs  # the random model alone writes other names: the prior decided
