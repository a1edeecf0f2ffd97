from __future__ import annotations

import json
from typing import Any

import pytest

from mcptrain.training.prompt import (
    HERMES,
    IGNORE_INDEX,
    choose_template,
    encode_prompt,
    encode_row,
    end_of_turn,
    hermes,
    prompt_messages,
    render,
    segments,
    supports_tools,
)
from tests.training.tiny import SYSTEM, TOOLS, make_row, multi_turn_row

TOOL_LINES = "\n".join(
    json.dumps({"name": t["function"]["name"], "description": t["function"]["description"],
                "parameters": t["function"]["parameters"]}, separators=(",", ":"))
    for t in TOOLS)
SYSTEM_TURN = (
    f"<|im_start|>system\n{SYSTEM}\n\n# Tools\nCall tools by replying "
    '<tool_call>{"name": <name>, "arguments": {<args>}}</tool_call>, one block per call. '
    f"The tools, one JSON object per line:\n{TOOL_LINES}<|im_end|>\n")


def test_render_hermes_single_call() -> None:
    row = make_row(0)
    assert render(HERMES, row["messages"], row["tools"]) == (
        SYSTEM_TURN
        + "<|im_start|>user\nWhat is the weather in Paris?<|im_end|>\n"
        + '<|im_start|>assistant\n<tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}'
        + "</tool_call><|im_end|>\n")


def test_render_tool_results_and_parallel_calls() -> None:
    messages: list[dict[str, Any]] = [
        {"role": "user", "content": "two"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"type": "function", "function": {"name": "a", "arguments": {"x": 1}}},
            {"type": "function", "function": {"name": "b", "arguments": '{"y": 2}'}}]},
        {"role": "tool", "name": "a", "content": "r1"},
        {"role": "tool", "name": "b", "content": "r2"},
        {"role": "assistant", "content": "done"},
    ]
    assert render(HERMES, messages, None, add_generation_prompt=False) == (
        "<|im_start|>user\ntwo<|im_end|>\n"
        '<|im_start|>assistant\n<tool_call>{"name": "a", "arguments": {"x": 1}}</tool_call>\n'
        '<tool_call>{"name": "b", "arguments": {"y": 2}}</tool_call><|im_end|>\n'
        "<|im_start|>user\n<tool_response>r1</tool_response>\n<tool_response>r2</tool_response><|im_end|>\n"
        "<|im_start|>assistant\ndone<|im_end|>\n")


def test_render_matches_transformers_apply_chat_template(tiny_tokenizer: Any) -> None:
    for row in [make_row(0), make_row(1), multi_turn_row()]:
        for gen in (False, True):
            messages = row["messages"] if not gen else prompt_messages(row)
            ours = render(HERMES, messages, row["tools"], add_generation_prompt=gen)
            theirs = tiny_tokenizer.apply_chat_template(
                messages, tools=row["tools"], chat_template=HERMES, tokenize=False,
                add_generation_prompt=gen)
            assert ours == theirs


def test_mask_is_exactly_the_assistant_turn_and_its_end_token(tiny_tokenizer: Any) -> None:
    row = make_row(2)
    enc = encode_row(tiny_tokenizer, HERMES, row)

    def tok(text: str) -> list[int]:
        return list(tiny_tokenizer(text, add_special_tokens=False)["input_ids"])

    system = tok(SYSTEM_TURN)
    user = tok("<|im_start|>user\nCancel order ORD-102 please<|im_end|>\n<|im_start|>assistant\n")
    answer = tok('<tool_call>{"name": "cancel_order", "arguments": {"order_id": "ORD-102"}}</tool_call><|im_end|>')
    tail = tok("\n")
    assert enc.input_ids == system + user + answer + tail
    assert enc.labels == [IGNORE_INDEX] * len(system + user) + answer + [IGNORE_INDEX] * len(tail)
    assert enc.shared == len(system)
    assert answer[-1] == tiny_tokenizer.convert_tokens_to_ids("<|im_end|>")


def test_mask_multi_turn_scores_every_assistant_turn_only(tiny_tokenizer: Any) -> None:
    enc = encode_row(tiny_tokenizer, HERMES, multi_turn_row())
    scored = [i for i, label in enumerate(enc.labels) if label != IGNORE_INDEX]
    runs: list[list[int]] = []
    for i in scored:
        if runs and runs[-1][-1] == i - 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    texts = [tiny_tokenizer.decode([enc.input_ids[i] for i in run]) for run in runs]
    assert texts == [
        '<tool_call>{"name": "find_user", "arguments": {"email": "bo@acme.io"}}</tool_call><|im_end|>',
        "Found user U-1.<|im_end|>",
    ]


def test_prompt_tokens_are_the_training_tokens_before_the_answer(tiny_tokenizer: Any) -> None:
    row = multi_turn_row()
    enc = encode_row(tiny_tokenizer, HERMES, row)
    first = enc.labels.index(next(label for label in enc.labels if label != IGNORE_INDEX))
    ids = encode_prompt(tiny_tokenizer, HERMES, prompt_messages(row), row["tools"])
    assert ids == enc.input_ids[:first]


def test_every_turns_prompt_is_the_training_tokens_before_that_turn(tiny_tokenizer: Any) -> None:
    # A later step's prompt holds the earlier assistant turns and tool results: it is cut at
    # its own (last) turn, not at the first assistant turn of the history.
    row = multi_turn_row()
    enc = encode_row(tiny_tokenizer, HERMES, row)
    starts = [i for i, label in enumerate(enc.labels)
              if label != IGNORE_INDEX and (i == 0 or enc.labels[i - 1] == IGNORE_INDEX)]
    turns = [i for i, m in enumerate(row["messages"]) if m["role"] == "assistant"]
    assert len(starts) == len(turns) == 2
    prompts = [encode_prompt(tiny_tokenizer, HERMES, row["messages"][:turn], row["tools"]) for turn in turns]
    assert prompts == [enc.input_ids[:start] for start in starts]
    later = tiny_tokenizer.decode(prompts[1])
    assert '{"user_id": "U-1"}' in later and later.endswith("<|im_start|>assistant\n")


def test_prompt_messages() -> None:
    row = multi_turn_row()
    assert [m["role"] for m in prompt_messages(row)] == ["system", "user"]
    later = {**row, "messages": row["messages"][:4]}  # a later step, with its true history
    assert [m["role"] for m in prompt_messages(later)] == ["system", "user", "assistant", "tool"]


def test_template_choice() -> None:
    class Tok:
        chat_template: str | None = "{% for m in messages %}{{ m.content }}{% endfor %}"
        bos_token = "<bos>"
        vocab = {"<|im_start|>": 1, "<|im_end|>": 2, "<start_of_turn>": 3, "<end_of_turn>": 4}

        def get_vocab(self) -> dict[str, int]:
            return self.vocab

    assert choose_template(Tok()) == HERMES
    assert end_of_turn(HERMES) == "<|im_end|>"
    native = "{% if tools %}{{ tools | tojson }}{% endif %}{% for m in messages %}{{ m.content }}{% endfor %}"
    Tok.chat_template = native
    assert choose_template(Tok()) == native
    assert not supports_tools(None)
    # Gemma's vocabulary has its own turn markers and no ChatML ones: HERMES in those.
    Tok.chat_template, Tok.vocab = None, {"<start_of_turn>": 3, "<end_of_turn>": 4}
    gemma = choose_template(Tok())
    assert gemma == hermes("<start_of_turn>", "<end_of_turn>", "<bos>") and end_of_turn(gemma) == "<end_of_turn>"
    text = render(gemma, make_row(0)["messages"], make_row(0)["tools"])
    assert text.startswith("<bos><start_of_turn>system\n") and text.endswith("</tool_call><end_of_turn>\n")
    assert "<|im_" not in text


def test_segments_refuse_a_template_that_rewrites_history() -> None:
    # Renders only the last message: earlier turns are not a prefix of the whole.
    template = "{{ messages[-1].content }}{% if add_generation_prompt %}>{% endif %}"
    row = {"id": "x", "messages": [{"role": "user", "content": "a"},
                                   {"role": "assistant", "content": "b"}]}
    with pytest.raises(ValueError, match="cannot be found"):
        segments(template, row)
