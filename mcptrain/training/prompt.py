"""The prompt format: how a canonical row becomes text and tokens.

A base model whose own chat template understands `tools` is trained in its own format.
Otherwise (SmolLM2's template has no tool support) rows are rendered with `HERMES`, a
ChatML template with the tools in the system turn and calls as
`<tool_call>{"name": ..., "arguments": {...}}</tool_call>`, the format vLLM and others
parse. Tools are one compact JSON line each: the tool block is ~70% of every row's
tokens, so every token there costs training time.

The template is saved next to the adapter (`chat_template.jinja`) so serving renders
exactly what training saw. Rendering uses the same jinja settings as transformers'
`apply_chat_template` (sandboxed, trim/lstrip blocks, its `tojson`), so this module
needs no transformers to render, and a test holds the two outputs equal.

Tokenisation is segment by segment: prompt text and assistant text are tokenised
separately and concatenated, so the tokens a model is trained on after a prompt are
exactly the tokens it generates after that prompt at inference. Labels are -100
everywhere except the assistant's content and its end-of-turn token.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jinja2 import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

IGNORE_INDEX = -100
# How a prompt's tokens are made from its messages (`prompt_segments`). It is in every
# fingerprint of what decoding made (an adapter's calibrated decisions, evaluation reports,
# the base model's kept outputs), so outputs of an earlier encoding are never reused.
# 2: a later step of a multi_turn row keeps its history (1 cut every prompt at the
# history's first assistant turn, so every step was asked as the first).
PROMPT_REVISION = 2
END_OF_TURN = "<|im_end|>"
# Turn markers a template may be written with: ChatML's (SmolLM2, Qwen) and Gemma's.
# HERMES uses whichever pair is in the model's vocabulary as single tokens, so a row's
# end of turn is one token the decoder can stop on.
TURN_MARKERS = (("<|im_start|>", "<|im_end|>"), ("<start_of_turn>", "<end_of_turn>"))

# Whitespace is explicit ({{- ... }}), so it renders the same with or without trim_blocks.
HERMES = """\
{%- if messages and messages[0].role == 'system' %}
    {%- set system = messages[0].content %}
    {%- set rest = messages[1:] %}
{%- else %}
    {%- set system = '' %}
    {%- set rest = messages %}
{%- endif %}
{%- if system or tools %}
    {{- '<|im_start|>system\\n' + system }}
    {%- if tools %}
        {{- ('\\n\\n' if system else '') + '# Tools\\nCall tools by replying <tool_call>{\"name\": <name>, \"arguments\": {<args>}}</tool_call>, one block per call. The tools, one JSON object per line:' }}
        {%- for tool in tools %}
            {%- set f = tool.function if tool.function is defined else tool %}
            {{- '\\n' + ({'name': f.name, 'description': f.description, 'parameters': f.parameters} | tojson(separators=(',', ':'))) }}
        {%- endfor %}
    {%- endif %}
    {{- '<|im_end|>\\n' }}
{%- endif %}
{%- for m in rest %}
    {%- if m.role == 'tool' %}
        {%- if loop.first or loop.previtem.role != 'tool' %}
            {{- '<|im_start|>user\\n' }}
        {%- else %}
            {{- '\\n' }}
        {%- endif %}
        {{- '<tool_response>' + m.content + '</tool_response>' }}
        {%- if loop.last or loop.nextitem.role != 'tool' %}
            {{- '<|im_end|>\\n' }}
        {%- endif %}
    {%- elif m.role == 'assistant' %}
        {{- '<|im_start|>assistant\\n' + (m.content or '') }}
        {%- for call in m.tool_calls or [] %}
            {%- set fn = call.function if call.function is defined else call %}
            {%- if m.content or not loop.first %}
                {{- '\\n' }}
            {%- endif %}
            {{- '<tool_call>{\"name\": ' + (fn.name | tojson) + ', \"arguments\": ' + (fn.arguments if fn.arguments is string else fn.arguments | tojson) + '}</tool_call>' }}
        {%- endfor %}
        {{- '<|im_end|>\\n' }}
    {%- else %}
        {{- '<|im_start|>' + m.role + '\\n' + m.content + '<|im_end|>\\n' }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\\n' }}
{%- endif %}
"""


def supports_tools(chat_template: str | None) -> bool:
    """A template that mentions `tools` renders them (the detection transformers' own
    docs suggest; a template that ignores the variable would not name it)."""
    return bool(chat_template) and "tools" in str(chat_template)


def hermes(start: str, end: str, bos: str = "") -> str:
    """`HERMES` written with another pair of turn markers, after a leading `bos` (models
    such as Gemma are only trained on text that starts with their BOS token)."""
    text = HERMES.replace(TURN_MARKERS[0][0], start).replace(TURN_MARKERS[0][1], end)
    return ("{{- " + json.dumps(bos) + " }}\n" if bos else "") + text


def choose_template(tokenizer: Any) -> str:
    """The tokenizer's own template when it supports tools, else `HERMES` with the first
    pair of `TURN_MARKERS` the vocabulary has as single tokens."""
    own = getattr(tokenizer, "chat_template", None)
    if isinstance(own, str) and supports_tools(own):
        return own
    vocab = tokenizer.get_vocab()
    for n, (start, end) in enumerate(TURN_MARKERS):
        if start in vocab and end in vocab:
            if n == 0:
                return HERMES
            return hermes(start, end, getattr(tokenizer, "bos_token", None) or "")
    return HERMES


def end_of_turn(template: str) -> str:
    """The marker that ends an assistant turn in `template`."""
    for _, end in TURN_MARKERS:
        if end in template:
            return end
    return END_OF_TURN


@lru_cache(maxsize=8)
def _compile(template: str) -> Any:
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)

    def tojson(x: Any, ensure_ascii: bool = False, indent: Any = None,
               separators: Any = None, sort_keys: bool = False) -> str:
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent,
                          separators=separators, sort_keys=sort_keys)

    def raise_exception(message: str) -> None:
        raise TemplateError(message)

    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    return env.from_string(template)


def render(template: str, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None,
           *, add_generation_prompt: bool = False, **extra: Any) -> str:
    return str(_compile(template).render(
        messages=messages, tools=tools or None, add_generation_prompt=add_generation_prompt,
        bos_token="", eos_token=END_OF_TURN, **extra))


def prompt_messages(row: dict[str, Any]) -> list[dict[str, Any]]:
    """What a model is asked: the messages before the first assistant turn (docs/rows.md).

    A row that ends without an assistant turn is a prompt as a whole: that is how a
    later step of a multi_turn row is asked, with the true history before it.
    """
    messages = row["messages"]
    if messages and messages[-1]["role"] != "assistant":
        return list(messages)
    out = []
    for m in messages:
        if m["role"] == "assistant":
            break
        out.append(m)
    return out


@dataclass(frozen=True)
class Segment:
    text: str
    trained: bool


def segments(template: str, row: dict[str, Any]) -> list[Segment]:
    """The row's text cut into prompt and assistant pieces.

    The system turn is its own first segment, so rows sharing a system prompt and tools
    share their first tokens exactly. An assistant piece runs from the end of the
    generation prompt to the end of the end-of-turn marker (the newline after it is
    prompt: the model stops before it).
    """
    messages, tools = row["messages"], row.get("tools")
    full = render(template, messages, tools)
    cuts: list[tuple[int, int, bool]] = []  # (start, end, trained)
    start = 0
    if messages and messages[0]["role"] == "system":
        head = render(template, messages[:1], tools)
        if full.startswith(head) and head:
            cuts.append((0, len(head), False))
            start = len(head)
    for i, m in enumerate(messages):
        if m["role"] != "assistant":
            continue
        before = render(template, messages[:i], tools, add_generation_prompt=True)
        after = render(template, messages[: i + 1], tools)
        if not (full.startswith(before) and full.startswith(after) and len(before) >= start):
            raise ValueError(
                f"row {row.get('id')!r}: the chat template does not render turn {i} as a "
                "prefix of the conversation, so its assistant tokens cannot be found")
        end = len(after.rstrip())
        cuts.append((start, len(before), False))
        cuts.append((len(before), end, True))
        start = end
    cuts.append((start, len(full), False))
    return [Segment(full[a:b], t) for a, b, t in cuts if b > a]


@dataclass(frozen=True)
class Encoded:
    input_ids: list[int]
    labels: list[int]
    shared: int  # length of the leading system turn: identical across rows that share it

    def __len__(self) -> int:
        return len(self.input_ids)


def encode_row(tokenizer: Any, template: str, row: dict[str, Any]) -> Encoded:
    ids: list[int] = []
    labels: list[int] = []
    shared = 0
    for n, seg in enumerate(segments(template, row)):
        piece = tokenizer(seg.text, add_special_tokens=False)["input_ids"]
        ids += piece
        labels += piece if seg.trained else [IGNORE_INDEX] * len(piece)
        if n == 0 and not seg.trained and row["messages"][0]["role"] == "system":
            shared = len(piece)
    return Encoded(ids, labels, shared)


def prompt_segments(template: str, messages: list[dict[str, Any]],
                    tools: list[dict[str, Any]] | None) -> list[Segment]:
    """The segments of a prompt that ends in the generation prompt, cut as training cuts the
    whole conversation (`segments`): everything before the final assistant turn's own piece.

    `messages` may hold earlier assistant turns (a later step of a multi_turn row, a
    dialogue): they are prompt here, so the cut is at the *last* turn, never the first.
    """
    row = {"messages": [*messages, {"role": "assistant", "content": ""}], "tools": tools}
    end = len(render(template, messages, tools, add_generation_prompt=True))
    out: list[Segment] = []
    at = 0
    for seg in segments(template, row):
        if at + len(seg.text) > end:
            break
        out.append(seg)
        at += len(seg.text)
    return out


def encode_prompt(tokenizer: Any, template: str, messages: list[dict[str, Any]],
                  tools: list[dict[str, Any]] | None) -> list[int]:
    """Token ids of a prompt ending in the generation prompt, tokenised as in training."""
    return [t for seg in prompt_segments(template, messages, tools)
            for t in tokenizer(seg.text, add_special_tokens=False)["input_ids"]]
