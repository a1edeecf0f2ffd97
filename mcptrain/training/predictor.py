"""Predictors: a model's raw assistant output for each row's prompt.

A row's prompt is its messages before the first assistant turn (`prompt_messages`); a
row that ends without an assistant turn (a later step of a multi_turn row, with its true
history) is a prompt as a whole, earlier assistant turns included (`prompt_segments`).
Output is text in the training format: tool calls as hermes
`<tool_call>{"name": ..., "arguments": {...}}</tool_call>` blocks, or a plain reply.

* `LocalPredictor`: a transformers model plus an optional peft adapter (merged in
  memory), batched greedy decoding with a KV cache. Rows that share a system turn share
  its key/value cache: it is computed once and expanded over each batch, so the ~650
  tokens of tool block are not recomputed per row. Prompts are left-padded *after* the
  shared prefix; positions come from the attention mask, so padding changes nothing.
  A row leaves the batch (and its cache rows are dropped) as soon as it has finished its
  turn, so the long tail of one verbose row does not keep the whole batch decoding.
* `OpenAIPredictor`: any OpenAI-compatible chat endpoint (`base_url`), tools passed
  natively or rendered into the prompt.
* `PromptPredictor`: a prompt artifact's system prompt in front of any predictor.
"""

from __future__ import annotations

import json
import os
import re
import warnings
from collections import defaultdict
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from mcptrain.errors import PROMPT_TOO_LONG, ConfigError
from mcptrain.specs.models import ProjectSpec
from mcptrain.training.decision import (
    CONTINUE,
    DECISION_FILE,
    TRIGGER,
    Decision,
    head_input,
    stale_decision,
)
from mcptrain.training.prompt import (
    END_OF_TURN,
    HERMES,
    choose_template,
    end_of_turn,
    prompt_messages,
    prompt_segments,
    render,
    segments,
)

if TYPE_CHECKING:
    from mcptrain.training.grammar import ToolCallGrammar
    from mcptrain.training.grounding import Left, Named


class Predictor(Protocol):
    def predict(self, rows: list[dict[str, Any]]) -> list[str]: ...


def hermes_calls(calls: Sequence[tuple[str, Any]]) -> str:
    """`(name, arguments)` pairs as hermes blocks (arguments: an object or JSON text)."""
    blocks = []
    for name, arguments in calls:
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments)
            except ValueError:
                pass  # kept as text: the evaluator reports it as malformed
        args = arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False)
        blocks.append(f'<tool_call>{{"name": {json.dumps(name)}, "arguments": {args}}}</tool_call>')
    return "\n".join(blocks)


class LocalPredictor:
    def __init__(self, base_model: str, adapter_dir: Path | None = None, *, batch_size: int = 64,
                 max_new_tokens: int = 160, precision: str = "bf16", constrained: bool = True,
                 calibrated: bool = True, max_prompt_tokens: int | None = None,
                 ground_identifiers: bool = True, stated_values: bool = True, vocabulary_values: bool = True,
                 invented_values: bool = True, name_calibration: float = 0.0, tool_retrieval: float = 0.0,
                 unsaid_required: bool = False, fresh_calls: bool = True, named_ids: bool = True,
                 named_values: bool = True, take_named: bool = True) -> None:
        from mcptrain.training.model import load_model, load_tokenizer
        from mcptrain.training.precision import choose_precision

        self.adapter_dir = Path(adapter_dir) if adapter_dir else None
        self.base_model = base_model
        self._base: LocalPredictor | None = None  # the base model alone, for `base_hidden`
        has_tokenizer = self.adapter_dir is not None and (self.adapter_dir / "tokenizer_config.json").is_file()
        if has_tokenizer:
            from transformers import AutoTokenizer

            self.tokenizer = AutoTokenizer.from_pretrained(self.adapter_dir)
        else:
            self.tokenizer = load_tokenizer(base_model)
        template_file = self.adapter_dir / "chat_template.jinja" if self.adapter_dir else None
        if template_file is not None and template_file.is_file():
            self.template = template_file.read_text(encoding="utf-8")
        else:
            self.template = choose_template(self.tokenizer)
        model = load_model(base_model)
        if self.adapter_dir is not None:
            from peft import PeftModel

            with warnings.catch_warnings():  # peft calls transformers' deprecated names
                warnings.simplefilter("ignore", FutureWarning)
                model = PeftModel.from_pretrained(model, self.adapter_dir).merge_and_unload()
        self.model = model.eval().requires_grad_(False)
        self.window = sliding_window(model.config)  # decoding builds its masks by real positions
        from mcptrain.training.objective import _own_attention_fits

        # Plain attention: rows attend to the one shared tool-block cache, never to copies.
        self.prefix_attention = self.window is None and _own_attention_fits(model.config)
        self.batch_size = batch_size
        self.max_new_tokens = max_new_tokens
        self.max_prompt_tokens = max_prompt_tokens  # longer prompts are refused, with a count
        self.precision = choose_precision(precision)
        # Autocast casts every fp32 weight to bf16 on every decode step: for one token per
        # row that cast cost more than the matmuls. Stored once in bf16, the numbers are
        # the same (the cast is the same) and steps are faster (benchmarks/eval_bench.py).
        self.precision.store_frozen_weights(self.model)
        self.precision.store_output_head(self.model)  # else cast to bf16 at every decode step
        self.precision.cast_block_inputs(self.model)
        vocab = self.tokenizer.get_vocab()
        self.stop_id = vocab.get(end_of_turn(self.template), self.tokenizer.eos_token_id)
        self.pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.stop_id
        self.stop_loops = True  # cut a row off once it repeats itself (`loop_period`)
        self._closer_mask: Any = None  # `_closers`, made on first use
        self._quote_mask: Any = None  # `_quotes`, made on first use
        self.constrained = constrained
        self.grammar: ToolCallGrammar | None = None
        if constrained:
            from mcptrain.training.grammar import ToolCallGrammar

            self.grammar = ToolCallGrammar(self.tokenizer, [self.stop_id])
        # Under the grammar, id parameters take only ids the conversation holds (grounding.py).
        self.ground_identifiers = constrained and ground_identifiers
        self.stated_values = constrained and stated_values
        self.vocabulary_values = constrained and vocabulary_values
        # ... and a tool needing a vocabulary value nobody said is not offered (grounding.py).
        self.unsaid_required = self.vocabulary_values and unsaid_required
        # Under the grammar, a call that makes up a free-text value is answered in text.
        self.invented_values = constrained and invented_values
        # Under the grammar, a call repeating one already made is written again (`_unrepeat`).
        self.fresh_calls = constrained and fresh_calls
        # Under the grammar, a turn goes on with another call while the user's last message
        # names an id no call has taken (`_generate`).
        self.named_ids = constrained and named_ids
        self.named_values = constrained and named_values
        # ... and a call written while something named is untaken must take some of it.
        self.take_named = constrained and take_named and (named_ids or named_values)
        # Under the grammar, a tool's name is scored against how likely the model finds it
        # with nothing asked (`name_prior`): log p(token) - alpha * log p(token | "N/A").
        self.name_calibration = float(name_calibration) if constrained else 0.0
        # Under the grammar, a prior over the offered tools from the words the request shares
        # with each (retrieval.py), added to the name tokens' log probabilities.
        self.tool_retrieval = float(tool_retrieval) if constrained else 0.0
        self._name_priors: dict[tuple[Any, ...], dict[tuple[int, ...], dict[int, float]]] = {}
        self._spellings: dict[str, tuple[int, ...] | None] = {}
        from mcptrain.training.grammar import NAME_OPENER

        self._opener = tuple(self.tokenizer(NAME_OPENER, add_special_tokens=False)["input_ids"])
        # The adapter's calibrated call-or-answer threshold (training/decision.py), if any.
        self.decision = Decision.load(self.adapter_dir) if calibrated and self.adapter_dir else None
        if self.decision is not None and self.adapter_dir is not None and stale_decision(self.adapter_dir):
            from mcptrain import output

            output.warn(f"{self.adapter_dir / DECISION_FILE} was calibrated on prompts of an older encoding "
                        "(before revision 2, a later step of a multi_turn row was asked as the first); decoding "
                        "uses it as it is: run `mcptrain train` again to calibrate it anew (nothing is retrained)")
        # Its first token; without a decision, the one a text-only turn bans (`invented_values`).
        self._trigger = self.trigger_id(self.decision.trigger if self.decision else TRIGGER)
        # For its another-call-or-end decision after each call (decision.More): the tokens an
        # "another" writes, and the tokens that can end a call's end tag.
        self._continue = list(self.tokenizer(CONTINUE, add_special_tokens=False)["input_ids"])
        self._closing_ids = {i for piece, i in vocab.items() if piece.endswith(">")}
        self._tag_list = sorted(i for piece, i in vocab.items() if "</" in piece)  # tokens that begin an end tag
        self._tag_ids = set(self._tag_list)

    def trigger_id(self, trigger: str) -> int:
        """The first token of `trigger` as the model generates it after a prompt."""
        return int(self.tokenizer(trigger, add_special_tokens=False)["input_ids"][0])

    def first_token_stats(self, rows: list[dict[str, Any]], token: int, *,
                          hidden: bool = False) -> tuple[Any, ...]:
        """For each row's prompt: p(`token` comes first), and whether it is the argmax; with
        `hidden`, also the final hidden states there (rows x hidden size, fp32)."""
        dist, argmax, states = self._next_token_stats(self._groups(rows), len(rows), [token])
        probs = [float(d[0]) for d in dist]
        return (probs, argmax[0], states) if hidden else (probs, argmax[0])

    def call_end_stats(self, points: Sequence[tuple[dict[str, Any], int]], token: int) -> tuple[Any, Any]:
        """For each (row ending in an assistant turn that calls, j): the row's prompt and that
        turn's calls up to the end of call j, tokenised as in training (teacher forcing);
        there, p(`token` next) / (that + p(end of turn)), and the final hidden states
        (points x hidden size, fp32). A point whose call end is not a token boundary has
        nan as its probability."""

        from mcptrain.training.grammar import END

        groups: dict[tuple[int, ...], list[tuple[int, list[int]]]] = defaultdict(list)
        skipped = []
        for i, (row, j) in enumerate(points):
            shared, rest = self.encode({**row, "messages": row["messages"][:-1]})
            turn = [s for s in segments(self.template, row) if s.trained][-1].text
            enc = self.tokenizer(turn, add_special_tokens=False, return_offsets_mapping=True)
            end = [m.end() for m in re.finditer(re.escape(END), turn)][j]
            cut = next((k + 1 for k, (_, b) in enumerate(enc["offset_mapping"]) if b == end), None)
            if cut is None:
                skipped.append(i)
                cut = len(enc["input_ids"])
            groups[shared].append((i, rest + list(enc["input_ids"][:cut])))
        for members in groups.values():
            members.sort(key=lambda m: len(m[1]))
        dist, _, states = self._next_token_stats(groups, len(points), [token, self.stop_id])
        more = dist[:, 0] / (dist[:, 0] + dist[:, 1]).clamp(min=1e-12)
        more[skipped] = float("nan")
        return more, states

    def _next_token_stats(self, groups: dict[tuple[int, ...], list[tuple[int, list[int]]]], n: int,
                          tokens: Sequence[int]) -> tuple[Any, list[list[bool]], Any]:
        """For `n` prompts in `groups`: p(each of `tokens` next) (n x len(tokens)), whether
        each is the argmax (per token, n each), and the final hidden states (n x hidden size)."""
        import torch

        dist_out = torch.zeros(n, len(tokens))
        argmax = [[False] * n for _ in tokens]
        states = torch.zeros(n, self.model.config.get_text_config().hidden_size)
        wanted = torch.tensor(list(tokens))
        with torch.no_grad(), self.precision.autocast(), self._hidden_states() as seen:
            for shared, prefix_cache, part in self._batches(groups):
                ids, mask, pos, cache = self._batch(shared, prefix_cache, [m[1] for m in part])
                logits = self._forward(ids, mask, pos, cache, prefix_cache).float()
                dist = logits.softmax(-1)
                best = logits.argmax(-1)
                for j, (i, _) in enumerate(part):
                    dist_out[i] = dist[j, wanted]
                    for k, token in enumerate(tokens):
                        argmax[k][i] = int(best[j]) == token
                    states[i] = seen[-1][j]
        return dist_out, argmax, states

    def base_hidden(self, rows: list[dict[str, Any]]) -> Any:
        """The base model's final hidden state at the end of each row's prompt (rows x hidden
        size, fp32), the prompt written as this predictor writes it; for a decision head that
        reads it (`decision.Head.inputs`). The base model is loaded on first use."""
        if self._base is None:
            self._base = LocalPredictor(self.base_model, None, batch_size=self.batch_size,
                                        precision=self.precision.used, constrained=False, calibrated=False)
            self._base.tokenizer, self._base.template = self.tokenizer, self.template
        trigger = self.trigger_id(self.decision.trigger if self.decision else TRIGGER)
        return self._base.first_token_stats(rows, trigger, hidden=True)[2]

    @contextmanager
    def _hidden_states(self) -> Iterator[list[Any]]:
        """While open, the last position's final hidden state (the output layer's input) of
        every forward pass is appended to the list it yields."""
        seen: list[Any] = []

        def keep(_module: Any, args: tuple[Any, ...]) -> None:
            seen.append(args[0][:, -1].float())
            del seen[:-1]

        handle = self.model.get_output_embeddings().register_forward_pre_hook(keep)
        try:
            yield seen
        finally:
            handle.remove()

    def encode(self, row: dict[str, Any]) -> tuple[tuple[int, ...], list[int]]:
        """(shared system-turn ids, the rest of the prompt's ids), tokenised as in training."""
        messages = prompt_messages(row)
        pieces = prompt_segments(self.template, messages, row.get("tools"))
        ids = [self.tokenizer(p.text, add_special_tokens=False)["input_ids"] for p in pieces]
        shared = tuple(ids[0]) if messages[0]["role"] == "system" and len(ids) > 1 else ()
        rest = [t for chunk in ids[1 if shared else 0 :] for t in chunk]
        return shared, rest

    def predict(self, rows: list[dict[str, Any]]) -> list[str]:
        tools = [self.offered_tools(row) for row in rows]
        named = None
        if self.named_ids or self.named_values:
            from mcptrain.training.grounding import Named, earlier_calls, named_ids, named_values

            named = [Named(named_ids(row, offered) if self.named_ids else frozenset(),
                           named_values(row, offered) if self.named_values else {}, tuple(earlier_calls(row)))
                     for row, offered in zip(rows, tools, strict=True)]
        out = [""] * len(rows)
        groups = self._refuse_long(self._groups(rows), rows, out)
        base: dict[int, Any] = {}  # row -> the base model's hidden state, for a head that reads it
        head = self.decision.head if self.decision is not None else None
        if head is not None and "base" in head.inputs:
            kept = [i for members in groups.values() for i, _ in members]
            base = dict(zip(kept, self.base_hidden([rows[i] for i in kept]), strict=True))
        self._decode(groups, rows, tools, base, out, named=named)
        if self.fresh_calls:
            self._unrepeat(groups, rows, tools, base, out, named)
        if self.invented_values:
            # A call giving a value the conversation never says ("Ship ORD-2301 to
            # 10 Main Street" with `city: "New York"`) is not the call asked for: it is left
            # out, the turn's other calls standing; a turn left with none is decoded again as
            # a text answer, where "which city?" belongs.
            redo: set[int] = set()
            for members in groups.values():
                for i, _ in members:
                    standing = self.without_invented(rows[i], out[i])
                    if standing is None:
                        redo.add(i)
                    else:
                        out[i] = standing
            if redo:
                again = {shared: mine for shared, members in groups.items()
                         if (mine := [m for m in members if m[0] in redo])}
                self._decode(again, rows, tools, base, out, text_only=True)
        return out

    def _unrepeat(self, groups: dict[tuple[int, ...], list[tuple[int, list[int]]]], rows: list[dict[str, Any]],
                  tools: list[Any], base: dict[int, Any], out: list[str],
                  named: list[Named] | None = None) -> None:
        """Write again, in `out`, each call that repeats one already made: the same tool with
        the same arguments as a call of the conversation's history or an earlier call of the
        turn. No expected call of the demo's training and validation rows does that, and few of
        BFCL's (README, "Fresh calls"), so a repeat is nearly always wrong; a small model makes it when it loses count of a parallel
        request ("cancel ORD-1 and ORD-2": ORD-1 twice) or answers a later step with the call
        its history already holds. The turn is decoded on from just before that call (its
        calls before it kept, then the continuation the training format writes), with tools
        offered so that the call cannot repeat any call made (`grounding.fresh_tools`); what
        still repeats after `REPEAT_ROUNDS` is cut off (a first call repeating the history
        is answered in text)."""
        from mcptrain.training.grammar import call_blocks
        from mcptrain.training.grounding import earlier_calls, first_repeat, fresh_tools

        history = {i: earlier_calls(rows[i]) for members in groups.values() for i, _ in members}
        for last in [False] * REPEAT_ROUNDS + [True]:
            again: dict[tuple[int, ...], list[tuple[int, list[int]]]] = {}
            starts: dict[int, list[int]] = {}
            fresh: list[Any] = list(tools)
            text_only: dict[tuple[int, ...], list[tuple[int, list[int]]]] = {}
            for shared, members in groups.items():
                for i, rest in members:
                    blocks = call_blocks(out[i])
                    k = first_repeat([b[2] for b in blocks], history[i])
                    if k is None:
                        continue
                    kept = out[i][: blocks[k - 1][1]] if k else ""
                    fresh[i] = fresh_tools(tools[i], [*history[i], *(b[2] for b in blocks[:k] if b[2])])
                    if k and (last or not fresh[i]):
                        out[i] = kept  # the calls before it stand; the turn ends there
                    elif last or not fresh[i]:
                        text_only.setdefault(shared, []).append((i, rest))
                    else:
                        starts[i] = self.tokenizer(kept, add_special_tokens=False)["input_ids"] if k else []
                        again.setdefault(shared, []).append((i, [*rest, *starts[i]]))
            if text_only:
                self._decode(text_only, rows, tools, base, out, text_only=True)
            if not again:
                return
            self._decode(again, rows, fresh, base, out, starts=starts, named=named)

    def _decode(self, groups: dict[tuple[int, ...], list[tuple[int, list[int]]]], rows: list[dict[str, Any]],
                tools: list[Any], base: dict[int, Any], out: list[str], text_only: bool = False,
                starts: dict[int, list[int]] | None = None, named: list[Named] | None = None) -> None:
        """Decode `groups`' rows into `out` (a text answer only, with `text_only`). A row with
        `starts` has already written those tokens (they end its prompt too): it goes on
        with another call (`_generate`)."""
        import torch

        with torch.no_grad(), self.precision.autocast():
            for shared, prefix_cache, part in self._batches(groups):
                adjust = ([self.name_adjustments(shared, prefix_cache, rows[i]) for i, _ in part]
                          if (self.name_calibration or self.tool_retrieval) and not text_only else None)
                texts = self._generate(shared, prefix_cache, [m[1] for m in part], [tools[m[0]] for m in part],
                                       adjust, [base[i] for i, _ in part] if base else None, text_only=text_only,
                                       starts=[starts.get(i, []) for i, _ in part] if starts else None,
                                       named=[named[i] for i, _ in part] if named else None)
                for (i, _), text in zip(part, texts, strict=True):
                    out[i] = text

    @classmethod
    def invents(cls, row: dict[str, Any], text: str) -> bool:
        """Whether `text` calls one of `row`'s tools with a value the conversation does not
        give: free text sharing no word with it, or a number, date or time when it gives
        none (`grounding.invented_values`)."""
        return cls.without_invented(row, text) != text

    @staticmethod
    def without_invented(row: dict[str, Any], text: str) -> str | None:
        """`text` without its call blocks that invent a value (`invents`), the separator
        before each with it; None when no call of it is left. A turn asked for two things,
        one of them said in full ("Mark T-1 resolved and email C-2"), keeps the call it can
        make rather than turning the whole request into a question."""
        from mcptrain.training.grammar import call_blocks, tool_function
        from mcptrain.training.grounding import (
            content_words,
            conversation_text,
            invented_values,
            says_quantity,
        )

        blocks = call_blocks(text)
        if not any(call for _, _, call in blocks):
            return text
        schemas = {str(f.get("name")): f.get("parameters") for t in row.get("tools") or [] if (f := tool_function(t))}
        said = conversation_text(row)
        words, quantities = content_words(said), says_quantity(said)
        made_up = [call is not None and bool(invented_values(schemas.get(call[0]), call[1], words, quantities=quantities))
                   for _, _, call in blocks]
        if not any(made_up):
            return text
        if not any(call is not None and not dropped for (_, _, call), dropped in zip(blocks, made_up, strict=True)):
            return None  # no call of it stands (a block that is not a call is none)
        pieces: list[str] = []
        end = blocks[0][0]
        for (start, stop, _), dropped in zip(blocks, made_up, strict=True):
            if not dropped:  # the block, after the separator that went before it (none for the first kept)
                pieces.append(text[end:stop] if pieces else text[start:stop])
            end = stop
        return text[: blocks[0][0]] + "".join(pieces) + text[end:]

    def offered_tools(self, row: dict[str, Any]) -> Any:
        """The tools the grammar offers for `row`: its own, grounded when that is on, with
        the values the user states required, and its vocabulary's values narrowed to those
        the user says, when those are on."""
        from mcptrain.training.grounding import (
            conversation_text,
            ground_tools,
            require_stated,
            said_text,
            said_values,
            used_values,
            user_text,
        )

        tools, used = row.get("tools"), used_values(row)  # what earlier calls took is not said again
        if self.stated_values:
            tools = require_stated(tools, user_text(row), used)
        if self.vocabulary_values:
            tools = said_values(tools, row.get("canonical_values"), user_text(row), said_text(row), used,
                                unsaid_required=self.unsaid_required)
        if self.ground_identifiers:
            tools = ground_tools(tools, conversation_text(row))
        return tools

    def spelled(self, name: str) -> tuple[int, ...] | None:
        """`name`'s tokens as the grammar writes them after the call opener, up to the one
        that closes its quote; None when the opener itself is tokenised differently in front
        of it (nothing to score by)."""
        from mcptrain.training.grammar import call_prefix

        if name not in self._spellings:
            ids = self.tokenizer(call_prefix(name), add_special_tokens=False)["input_ids"]  # as the grammar writes it
            if tuple(ids[: len(self._opener)]) != self._opener:
                self._spellings[name] = None
            else:
                own = ids[len(self._opener):]
                end = next((k + 1 for k in range(len(own))
                            if '"' in self.tokenizer.decode(own[: k + 1])), len(own))
                self._spellings[name] = tuple(own[:end])
        return self._spellings[name]

    def name_adjustments(self, shared: tuple[int, ...], prefix_cache: Any,
                         row: dict[str, Any]) -> dict[tuple[int, ...], dict[int, float]]:
        """What is added to the log probability of each next token of each offered name,
        by the name tokens written before it: - `name_calibration` x the name prior
        (`name_prior`) plus the tool-retrieval prior's share of that token
        (`retrieval.name_token_bonus` of `tool_retrieval` x `retrieval.tool_scores`)."""
        from mcptrain.training.grammar import tool_function
        from mcptrain.training.grounding import user_text
        from mcptrain.training.retrieval import name_token_bonus, tool_scores

        adjust: dict[tuple[int, ...], dict[int, float]] = {}
        names = [str(tool_function(t).get("name", "")) for t in row.get("tools") or []]
        spelled = {n: own for n in names if (own := self.spelled(n)) is not None}
        if len(spelled) < len(set(names)):
            return adjust  # a name the table could not cover would become unwritable (_adjust_names)
        if self.name_calibration:
            for prefix, nexts in self.name_prior(shared, prefix_cache, row).items():
                adjust[prefix] = {t: -self.name_calibration * v for t, v in nexts.items()}
        if self.tool_retrieval:
            scores = tool_scores(row.get("tools"), user_text(row))
            weights = {n: self.tool_retrieval * scores.get(n, 0.0) for n in spelled}
            if any(weights.values()):
                for prefix, nexts in name_token_bonus(spelled, weights).items():
                    for t, v in nexts.items():
                        adjust.setdefault(prefix, {})[t] = adjust.get(prefix, {}).get(t, 0.0) + v
        return adjust

    def name_prior(self, shared: tuple[int, ...], prefix_cache: Any,
                   row: dict[str, Any]) -> dict[tuple[int, ...], dict[int, float]]:
        """How likely the model finds each of `row`'s tool names with nothing asked: the log
        probability of every token of every name (as the model writes it after
        `<tool_call>{"name": "`), by the name tokens before it, after a user turn that says
        only "N/A" (the domain premise of PMI scoring, Holtzman et al. 2021; "contextual
        calibration", Zhao et al. 2021). A fine-tuned model favours the names it was trained
        on whatever is asked; subtracting `name_calibration` times this prior lets a tool it
        never saw win on what the request says. One small batch per tool block, cached."""
        from mcptrain.training.grammar import tool_function

        names = tuple(str(tool_function(t).get("name", "")) for t in row.get("tools") or [])
        key = (shared, names)
        if key in self._name_priors:
            return self._name_priors[key]
        system = [m for m in prompt_messages(row)[:1] if m.get("role") == "system"]
        _, blank = self.encode({**row, "messages": [*system, {"role": "user", "content": "N/A"}]})
        spelled = [list(own) for own in map(self.spelled, names) if own is not None]
        prior: dict[tuple[int, ...], dict[int, float]] = {}
        if spelled:
            prompts = [[*blank, *self._opener, *tokens] for tokens in spelled]
            keep = max(len(tokens) for tokens in spelled) + 1
            ids, mask, pos, cache = self._batch(shared, prefix_cache, prompts)
            logits = self._forward(ids, mask, pos, cache, prefix_cache, keep=keep).float().log_softmax(-1)
            for i, tokens in enumerate(spelled):
                for k, token in enumerate(tokens):  # position keep-1-len(tokens)+k predicts tokens[k]
                    prior.setdefault(tuple(tokens[:k]), {})[token] = float(
                        logits[i, keep - 1 - len(tokens) + k, token])
        self._name_priors[key] = prior
        return prior

    def _refuse_long(self, groups: dict[tuple[int, ...], list[tuple[int, list[int]]]], rows: list[dict[str, Any]],
                     out: list[str]) -> dict[tuple[int, ...], list[tuple[int, list[int]]]]:
        """The groups without prompts over `max_prompt_tokens`; those get the PROMPT_TOO_LONG
        marker in `out` (scored as malformed) and a warning with their count."""
        if self.max_prompt_tokens is None:
            return groups
        kept: dict[tuple[int, ...], list[tuple[int, list[int]]]] = {}
        refused = []
        for shared, members in groups.items():
            for i, rest in members:
                length = len(shared) + len(rest)
                if length > self.max_prompt_tokens:
                    out[i] = f"{PROMPT_TOO_LONG} the prompt is {length} tokens, over max_seq_len={self.max_prompt_tokens}"
                    refused.append(str(rows[i].get("id")))
                else:
                    kept.setdefault(shared, []).append((i, rest))
        if refused:
            from mcptrain import output

            shown = ", ".join(refused[:5]) + (f" and {len(refused) - 5} more" if len(refused) > 5 else "")
            output.warn(f"{len(refused)} prompts longer than max_seq_len={self.max_prompt_tokens} tokens were "
                        f"not generated and are scored as failures: {shown} (raise training.max_seq_len)")
        return kept

    def _groups(self, rows: list[dict[str, Any]]) -> dict[tuple[int, ...], list[tuple[int, list[int]]]]:
        """(row index, prompt ids after the shared system turn) by shared turn, by length."""
        groups: dict[tuple[int, ...], list[tuple[int, list[int]]]] = defaultdict(list)
        for i, row in enumerate(rows):
            shared, rest = self.encode(row)
            groups[shared].append((i, rest))
        for members in groups.values():
            members.sort(key=lambda m: len(m[1]))
        return groups

    def _batches(self, groups: dict[tuple[int, ...], list[tuple[int, list[int]]]]) -> Iterator[tuple[tuple[int, ...], Any, list[tuple[int, list[int]]]]]:
        """(shared system turn, its prefilled cache, up to `batch_size` of its rows) in turn."""
        for shared, members in groups.items():
            prefix_cache = self._prefill(shared) if shared else None
            for b in range(0, len(members), self.batch_size):
                yield shared, prefix_cache, members[b : b + self.batch_size]

    def _batch(self, shared: tuple[int, ...], prefix_cache: Any, prompts: list[list[int]]) -> tuple[Any, ...]:
        """(ids, attention mask, positions, cache) of prompts left-padded after the prefix.

        Under `prefix_attention` the cache and the mask hold the rows' own tokens only
        (the prefix stays one shared cache); otherwise the prefix's cache is expanded over
        the batch and the mask starts with its positions."""
        import torch

        from mcptrain.training.objective import expand_cache, full_cache

        size, width, n = len(prompts), max(len(p) for p in prompts), len(shared)
        own = self.prefix_attention and prefix_cache is not None
        lead = 0 if own else n  # mask columns before the prompts
        ids = torch.full((size, width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((size, lead + width), dtype=torch.long)
        mask[:, :lead] = 1
        for i, p in enumerate(prompts):  # left padding between the prefix and the prompt
            ids[i, width - len(p) :] = torch.tensor(p)
            mask[i, lead + width - len(p) :] = 1
        cache = expand_cache(prefix_cache, size) if prefix_cache is not None and not own else full_cache()
        # Positions count real tokens only, so padding changes nothing (as in generate()).
        offset = n - lead
        return ids, mask, (mask.cumsum(-1) - 1 + offset).clamp(min=offset)[:, lead:], cache

    def _forward(self, ids: Any, mask: Any, positions: Any, cache: Any, prefix_cache: Any = None,
                 keep: int = 0) -> Any:
        """The last position's logits (the last `keep` positions' when `keep`); the cache
        grows by `ids`."""
        from mcptrain.training.objective import (
            DECODE_PREFIX_ATTENTION,
            _attention,
            _cache_keyword,
            _register_attention,
        )

        keyword = _cache_keyword(type(self.model).forward)
        if self.prefix_attention and prefix_cache is not None:
            _register_attention()
            prefix = [(layer.keys, layer.values) for layer in prefix_cache.layers]
            with _attention(self.model.config, DECODE_PREFIX_ATTENTION):
                logits = self.model(input_ids=ids, position_ids=positions, use_cache=True,
                                    logits_to_keep=keep or 1, mcptrain_prefix=prefix, mcptrain_own_mask=mask,
                                    **{keyword: cache}).logits
                return logits if keep else logits[:, -1]
        masks = mask if self.window is None else window_masks(mask, ids.shape[1], self.window)
        logits = self.model(input_ids=ids, attention_mask=masks, position_ids=positions, use_cache=True,
                            logits_to_keep=keep or 1, **{keyword: cache}).logits
        return logits if keep else logits[:, -1]

    def _prefill(self, shared: tuple[int, ...]) -> Any:
        import torch

        from mcptrain.training.objective import _decoder_call, full_cache

        cache = full_cache()
        _decoder_call(self.model.get_decoder(), cache, input_ids=torch.tensor([shared]), use_cache=True)
        return cache

    @staticmethod
    def _adjust_names(logits: Any, active: list[int], tokens: list[list[int]], naming: dict[int, int],
                      adjust: Sequence[dict[tuple[int, ...], dict[int, float]]]) -> Any:
        """`logits` with each naming row's known next name tokens scored log p + their
        adjustment (`name_adjustments`), and the row's other tokens pushed below them: a name
        is written in its own tokens, as the table spells it (a grammar allows a name in any
        tokens that spell it, and a model trained on the canonical ones rarely strays; one
        that does would leave the table). Other rows keep their logits."""
        import torch

        logits = logits.float()
        for j, row in enumerate(active):
            start = naming.get(row)
            nexts = adjust[row].get(tuple(tokens[row][start:])) if start is not None else None
            if not nexts:
                continue
            logp = logits[j].log_softmax(-1)
            ids = torch.tensor(list(nexts))
            kept = logp[ids] + torch.tensor(list(nexts.values()))
            logp -= OFF_TABLE  # below every spelled token, above what the grammar forbids
            logp[ids] = kept
            logits[j] = logp
        return logits

    @staticmethod
    def _sends_on(measured: tuple[Left, int], took: dict[int, int], row: int) -> bool:
        """Whether a turn whose call has just closed goes on with another call, given what its
        written calls (`grammar.written_calls`) leave and took of what is named
        (`Named.measure`): something named is untaken by them, and they have taken more of
        what is named than when `row` was last sent on (`took`, updated), so a call that
        takes nothing named ends the turn."""
        left, got = measured
        if left and got > took.get(row, -1):
            took[row] = got
            return True
        return False

    @staticmethod
    def _taking(left: Left, tools: Any) -> list[Any]:
        """The tools for a call written while something named is untaken by the turn's calls
        (`left`, `Named.measure`): narrowed so that it takes some of it
        (`grounding.taking_tools`; every such call of the demo's training and validation
        turns does, README "Taking what is named"). Empty when nothing is untaken, or no
        tool can take it."""
        from mcptrain.training.grounding import taking_tools

        return taking_tools(tools, left) if left else []

    def _opens_name(self, tokens: list[int]) -> bool:
        """Whether `tokens` end with the call opener's text, in whatever tokens it was written."""
        from mcptrain.training.grammar import NAME_OPENER

        tail = str(self.tokenizer.decode(tokens[-len(NAME_OPENER):], skip_special_tokens=False))
        return tail.endswith(NAME_OPENER)

    def _closed_call(self, tokens: list[int]) -> bool:
        """Whether `tokens` end with a call's end tag, in whatever tokens it was written.
        The tag closes a call only after the arguments' closing brace (`}</tool_call>`, as
        the grammar ends a call): written inside a string value, it is the string's text."""
        from mcptrain.training.grammar import END

        if not tokens or tokens[-1] not in self._closing_ids:
            return False
        return str(self.tokenizer.decode(tokens[-len(END) - 1:], skip_special_tokens=False)).endswith("}" + END)

    def _in_call(self, tokens: list[int]) -> bool:
        """Whether `tokens` leave a tool call open (more openers than end tags after a
        closing brace: an end tag inside a string value closes nothing)."""
        from mcptrain.training.grammar import END, TRIGGER

        text = str(self.tokenizer.decode(tokens, skip_special_tokens=False))
        return text.count(TRIGGER) > text.count("}" + END)

    def _in_string(self, tokens: list[int]) -> bool:
        """Whether `tokens` end inside a JSON string of the call they leave open."""
        from mcptrain.training.grammar import TRIGGER

        text = str(self.tokenizer.decode(tokens, skip_special_tokens=False))
        call = re.sub(r"\\.", "", text[text.rfind(TRIGGER) + len(TRIGGER):])
        return call.count('"') % 2 == 1

    def _quotes(self, width: int) -> Any:
        """Tokens that start with a closing quote (`"`, `"}`, `"]}`): [width] bool."""
        import torch

        if self._quote_mask is None or self._quote_mask.shape[0] != width:
            mask = torch.zeros(width, dtype=torch.bool)
            for i in range(min(width, len(self.tokenizer))):
                text = str(self.tokenizer.decode([i], skip_special_tokens=False)).strip()
                mask[i] = text.startswith('"') and set(text) <= set('"]}')
            self._quote_mask = mask
        return self._quote_mask

    def _closers(self, width: int) -> Any:
        """Tokens that only close what is open — quotes, brackets, braces (with spaces around
        them) — and the tokens of the call's end tag: [width] bool. A row caught looping
        inside a call takes only these while the grammar allows any (`_generate`): banning
        the loop's next token alone let a model go round again by another spelling
        (`{"quantity" : 12, ...` for `{"quantity": 12, ...`) until the length limit cut the
        call off unclosed."""
        import torch

        from mcptrain.training.grammar import END

        if self._closer_mask is None or self._closer_mask.shape[0] != width:
            mask = torch.zeros(width, dtype=torch.bool)
            for i in range(min(width, len(self.tokenizer))):
                text = str(self.tokenizer.decode([i], skip_special_tokens=False)).strip()
                if text and set(text) <= set('"]}'):
                    mask[i] = True
            for i in self.tokenizer(END, add_special_tokens=False)["input_ids"]:
                mask[i] = True
            self._closer_mask = mask
        return self._closer_mask

    def _generate(self, shared: tuple[int, ...], prefix_cache: Any, prompts: list[list[int]],
                  tools: Sequence[Any] | None = None,
                  adjust: Sequence[dict[tuple[int, ...], dict[int, float]]] | None = None,
                  base: Sequence[Any] | None = None, text_only: bool = False,
                  starts: Sequence[list[int]] | None = None,
                  named: Sequence[Named] | None = None) -> list[str]:
        """Greedy decoding of one batch with a KV cache; a row that has produced its stop
        token leaves the batch (its cache rows are dropped), so a few long answers do not
        make every finished row keep computing. Under a grammar (`constrained`), each row
        may only take the tokens its tools' grammar allows; a row caught repeating itself
        (`loop_period`) is cut off rather than decoded to the length limit, except inside a
        tool call under the grammar, where a cut would leave an unclosed call: there the
        token that would go round the loop once more is banned for the next step (up to
        `LOOP_BREAKS` times a row), and until the call is closed the row takes only closing
        tokens (`_closers`) wherever the grammar allows one. A row still inside a call at
        `max_new_tokens` closes it the same way, within `CALL_GRACE` more tokens.
        With `adjust` (`name_adjustments`, one per prompt), a row writing a tool's name
        scores each next token of it as log p + its adjustment. `base` holds each prompt's
        base-model hidden state when the decision head reads it (`base_hidden`). With
        `text_only`, no row may open a call. A row with `starts` (`_unrepeat`) has written
        those tokens already, the last of its prompt, ending with a closed call: it skips the
        call-or-answer decision and writes another call (its grammar starts after them).
        With `named` (`grounding.Named`, one per prompt), a row whose call closes while an
        id its user's last message names, or another value it states of a parameter a call
        set (`Named.measure`), is still untaken by its calls writes another call whatever
        the decision says, as long as each such call takes something named."""
        import torch

        from mcptrain.training.grammar import written_calls

        size = len(prompts)
        step_ids, mask, step_pos, cache = self._batch(shared, prefix_cache, prompts)
        active = list(range(size))
        tokens: list[list[int]] = [list(s) for s in starts] if starts else [[] for _ in range(size)]
        started = {i for i, s in enumerate(tokens) if s}
        matchers = ([self.grammar.matcher(t) for t in (tools or [None] * size)]
                    if self.grammar is not None else None)
        bitmask = self.grammar.bitmask(size) if self.grammar is not None else None
        banned: dict[int, int] = {}  # row -> the token that would continue its loop in a call
        breaks = [0] * size
        closing: set[int] = set()  # rows caught looping inside a call: they may only close it
        taking: set[int] = set()  # rows whose next call must take something named (`_taking`)
        naming: dict[int, int] = {}  # row -> where the tool name it is writing starts
        # Rows the calibrated decision sent to a text answer, and rows with nothing to call
        # (every offered tool needs an id the conversation does not hold).
        answering: set[int] = (set(range(size)) if text_only else
                               {i for i, t in enumerate(tools) if not t}
                               if self.ground_identifiers and tools is not None else set())
        grace = CALL_GRACE if matchers is not None else 0
        more = self.decision.more if self.decision is not None and not text_only else None
        queued: dict[int, list[int]] = {i: list(self._continue) for i in started}  # row -> the tokens it writes next (another call, or the end)
        # A rewritten row's kept calls, measured against what is named (`Named.measure`).
        measured = {i: named[i].measure(written_calls(str(self.tokenizer.decode(tokens[i], skip_special_tokens=False))))
                    for i in started} if named else {}
        # row -> how many named things its calls had taken when it was last sent on
        took: dict[int, int] = {i: m[1] for i, m in measured.items()}
        if named and matchers is not None and self.grammar is not None and self.take_named:
            for i in started:  # a rewritten call after kept ones is a call after another, too
                if narrowed := self._taking(measured[i][0], tools[i] if tools else None):
                    matchers[i] = self.grammar.matcher(narrowed)
                    taking.add(i)
        for step in range(self.max_new_tokens + grace):
            head = self.decision.head if step == 0 and self.decision is not None and not text_only else None
            # Rows that have just closed a call: another call, or the end of the turn (decision.More).
            ends = ([j for j, row in enumerate(active) if row not in queued and self._closed_call(tokens[row])]
                    if more is not None or named else [])
            seen: list[Any] = []
            hidden = head is not None or (ends and more is not None and more.head is not None)
            with self._hidden_states() if hidden else nullcontext(seen) as seen:
                logits = self._forward(step_ids, mask, step_pos, cache, prefix_cache)
            if ends and more is not None:
                if more.head is not None:
                    p_more = more.head.probability(seen[-1][ends])
                else:
                    dist = logits[ends].float().softmax(-1)
                    again, stop = dist[:, self._continue[0]], dist[:, self.stop_id]
                    p_more = again / (again + stop).clamp(min=1e-12)
                for j, p in zip(ends, p_more.tolist(), strict=True):
                    queued[active[j]] = list(self._continue) if p >= more.threshold else [self.stop_id]
            for j in ends:
                row = active[j]
                if named is None:
                    continue
                calls = written_calls(str(self.tokenizer.decode(tokens[row], skip_special_tokens=False)))
                at_end = named[row].measure(calls)  # once per call end, for both rules
                if self._sends_on(at_end, took, row):
                    queued[row] = list(self._continue)
                if matchers is not None and self.grammar is not None and self.take_named:
                    # The call after this one must take something named still untaken; once
                    # nothing is, or the turn ends, the row is back on its tools' own grammar
                    # (a fresh matcher: after a closed call the grammar is where it began).
                    offered = tools[row] if tools else None
                    another = queued.get(row) == list(self._continue)
                    narrowed = self._taking(at_end[0], offered) if another else []
                    if narrowed or row in taking:
                        matchers[row] = self.grammar.matcher(narrowed or offered)
                    if narrowed:
                        taking.add(row)
                    else:
                        taking.discard(row)
            if self.decision is not None or answering:
                logits = logits.float()
                if step == 0 and self.decision is not None and not text_only:
                    if head is not None:
                        p_call = head.probability(head_input(head.inputs, seen[-1], partial(torch.stack, list(base or []))))
                    else:
                        p_call = logits.softmax(-1)[:, self._trigger]
                    calls = p_call >= self.decision.threshold
                    calls &= torch.tensor([row not in answering and row not in started for row in active])
                    answering.update(active[j] for j, c in enumerate(calls.tolist()) if not c and active[j] not in started)
                    forced = logits[calls, self._trigger].clone()
                    logits[calls] = float("-inf")
                    logits[calls, self._trigger] = forced
                ban = [j for j, row in enumerate(active) if row in answering]
                logits[ban, self._trigger] = float("-inf")
            if adjust and naming:
                logits = self._adjust_names(logits, active, tokens, naming, adjust)
            if self.grammar is not None and matchers is not None:
                logits = logits.float()
                self.grammar.mask_logits(logits, [matchers[a] for a in active], bitmask)
                for j, row in enumerate(active):
                    if (t := banned.pop(row, None)) is not None:
                        kept_logit = logits[j, t].clone()
                        logits[j, t] = float("-inf")
                        if not torch.isfinite(logits[j]).any():  # the loop's token was the only way on
                            logits[j, t] = kept_logit
                    if row in closing:
                        closers = self._closers(logits.shape[-1])
                        if self._in_string(tokens[row]):  # only its closing quote closes a string
                            closers = closers & self._quotes(logits.shape[-1])
                        if torch.isfinite(logits[j][closers]).any():
                            logits[j][~closers] = float("-inf")
            for j, row in enumerate(active):
                if row in queued:
                    token = queued[row].pop(0)
                    if not queued[row]:
                        del queued[row]
                    if torch.isfinite(logits[j, token]):
                        logits[j] = float("-inf")
                        logits[j, token] = 0.0
                    else:  # the grammar forbids it: the row writes what it likes
                        queued.pop(row, None)
            chosen = logits.argmax(-1)
            if matchers is not None:
                for j, t in enumerate(chosen.tolist()):
                    # An end tag begun inside a string value would be the string's text to the
                    # grammar and the call's end to every parser (`<tool_call>(.*?)</tool_call>`).
                    if t in self._tag_ids and self._in_call(tokens[active[j]]) and self._in_string(tokens[active[j]]):
                        row_logits = logits[j].clone()
                        row_logits[self._tag_list] = float("-inf")
                        if torch.isfinite(row_logits).any():
                            logits[j], chosen[j] = row_logits, row_logits.argmax()
            keep = []
            for j, t in enumerate(chosen.tolist()):
                row = active[j]
                if t == self.stop_id:
                    continue
                tokens[row].append(t)
                if adjust and adjust[row]:
                    if self._opens_name(tokens[row]):
                        naming[row] = len(tokens[row])
                    elif row in naming and tuple(tokens[row][naming[row]:]) not in adjust[row]:
                        del naming[row]  # the name is written (or left the names we know)
                if matchers is not None and (not matchers[row].accept_token(t) or matchers[row].is_terminated()):
                    continue
                spent = step + 1 >= self.max_new_tokens
                if row in closing or spent:
                    if not self._in_call(tokens[row]):
                        closing.discard(row)  # the call is closed: the row writes what it likes again
                        if spent:
                            continue  # out of tokens, and no call left open
                    elif matchers is not None:
                        closing.add(row)  # out of tokens inside a call: `CALL_GRACE` more to close it
                if self.stop_loops and (period := loop_period(tokens[row])):
                    if matchers is None or breaks[row] >= LOOP_BREAKS or not self._in_call(tokens[row]):
                        continue
                    banned[row] = tokens[row][-period]
                    breaks[row] += 1
                    closing.add(row)
                keep.append(j)
            if not keep:
                break
            if len(keep) < len(active):
                idx = torch.tensor(keep)
                layers: list[Any] = list(cache.layers)
                for layer in layers:
                    layer.keys = layer.keys.index_select(0, idx)
                    layer.values = layer.values.index_select(0, idx)
                mask, chosen = mask.index_select(0, idx), chosen.index_select(0, idx)
                step_pos = step_pos.index_select(0, idx)
                active = [active[j] for j in keep]
            mask = torch.cat([mask, mask.new_ones((len(active), 1))], 1)
            step_ids, step_pos = chosen[:, None], step_pos[:, -1:] + 1
        return [str(self.tokenizer.decode(t, skip_special_tokens=False)) for t in tokens]


def sliding_window(config: Any) -> int | None:
    """The window of a model whose layers mix sliding-window and global attention (Gemma 3)."""
    types = getattr(config, "layer_types", None) or ()
    window = getattr(config, "sliding_window", None)
    return int(window) if window and "sliding_attention" in types else None


def window_masks(mask: Any, queries: int, window: int) -> dict[str, Any]:
    """Boolean attention masks [B, 1, Q, K] per layer type, by *real* positions.

    A batch is left-padded between the shared prefix and each prompt; the model's own
    sliding-window mask counts key slots, pads included, so a padded row would see fewer
    real tokens than it does alone. Counting real positions keeps every row's output
    what it is unbatched (tests/training/test_sliding_window.py)."""
    valid = mask.bool()
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    keys = positions[:, None, :]
    query = positions[:, -queries:, None]
    full = valid[:, None, :] & (keys <= query)
    return {"full_attention": full[:, None], "sliding_attention": (full & (query - keys < window))[:, None]}


LOOP_BREAKS = 8  # loops broken inside one row's tool call before it is cut off after all
REPEAT_ROUNDS = 2  # times a turn is decoded on after a repeated call before the repeat is cut (_unrepeat)
# Under the grammar, a row still inside a call when `max_new_tokens` run out gets up to this
# many more to close it, taking closing tokens wherever the grammar allows one: cut off, the
# call would be malformed (the demo's three parallel calls with an address each need ~170
# tokens, over the default 160). Every other row stops at the limit, so text answers cost
# no more.
CALL_GRACE = 96
OFF_TABLE = 1e4  # how far below the spelled name tokens a naming row's other tokens go (_adjust_names)


def loop_period(tokens: Sequence[int], times: int = 4, longest: int = 24) -> int | None:
    """The length of the 1..`longest`-token piece the tail of `tokens` repeats `times` times
    over (a greedy loop that would otherwise run to the length limit), or None. `longest`
    covers an array item written over and over inside a call (`{"quantity": 12, "sku":
    "SKU-775" } , ` is 18 tokens for SmolLM2: at 12 such a loop ran to the length limit
    and left the call unclosed)."""
    for period in range(1, longest + 1):
        span = period * times
        if len(tokens) < span:
            break
        tail = tokens[-span:]
        if all(tail[i] == tail[i % period] for i in range(period, span)):
            return period
    return None


class OpenAIPredictor:
    """Any OpenAI-compatible chat endpoint. Key from OPENAI_API_KEY unless given."""

    def __init__(self, model: str, *, base_url: str | None = None, api_key: str | None = None,
                 tools: Literal["native", "prompt"] = "native", max_tokens: int = 160,
                 concurrency: int = 4, client: Any = None) -> None:
        if client is None:
            try:
                from openai import OpenAI
            except ImportError:
                raise ConfigError("the OpenAI predictor needs the openai package",
                                  hint="pip install 'mcptrain[openai]'") from None
            key = api_key or os.environ.get("OPENAI_API_KEY")
            if not key:
                raise ConfigError("OPENAI_API_KEY is not set",
                                  hint="export OPENAI_API_KEY (any value for a local server)")
            client = OpenAI(api_key=key, base_url=base_url)
        self.client, self.model, self.tools = client, model, tools
        self.max_tokens, self.concurrency = max_tokens, concurrency

    def messages(self, row: dict[str, Any]) -> list[dict[str, Any]]:
        from mcptrain.dataset.exporters import openai_example

        prompt = prompt_messages(row)
        messages: list[dict[str, Any]] = openai_example(
            {**row, "messages": prompt}, row.get("tools") or [])["messages"]
        if self.tools == "prompt" and row.get("tools"):
            system = render(HERMES, prompt[:1] if prompt[0]["role"] == "system" else [], row["tools"])
            text = system.removeprefix("<|im_start|>system\n").removesuffix(f"{END_OF_TURN}\n")
            rest = messages[1:] if messages[0]["role"] == "system" else messages
            messages = [{"role": "system", "content": text}, *rest]
        return messages

    def predict_one(self, row: dict[str, Any]) -> str:
        kwargs: dict[str, Any] = {"model": self.model, "messages": self.messages(row),
                                  "temperature": 0, "max_tokens": self.max_tokens}
        if self.tools == "native" and row.get("tools"):
            kwargs["tools"] = row["tools"]
        message = self.client.chat.completions.create(**kwargs).choices[0].message
        calls = [(c.function.name, c.function.arguments) for c in message.tool_calls or []]
        parts = [message.content or "", hermes_calls(calls)]
        return "\n".join(p for p in parts if p)

    def predict(self, rows: list[dict[str, Any]]) -> list[str]:
        with ThreadPoolExecutor(max_workers=max(1, self.concurrency)) as pool:
            return list(pool.map(self.predict_one, rows))


class PromptPredictor:
    """Puts a prompt artifact's system prompt (per service) in front of `inner`."""

    def __init__(self, inner: Predictor, artifact: dict[str, Any] | Path) -> None:
        data: dict[str, Any] = (json.loads(artifact.read_text(encoding="utf-8"))
                                if isinstance(artifact, Path) else artifact)
        self.inner = inner
        self.constrained = bool(getattr(inner, "constrained", False))
        self.prompts: dict[str, str] = data["system_prompts"]
        self.default: str = data["default_system_prompt"]

    def predict(self, rows: list[dict[str, Any]]) -> list[str]:
        swapped = []
        for row in rows:
            prompt = self.prompts.get(row.get("service", ""), self.default)
            messages = row["messages"]
            if messages[0]["role"] == "system":
                # The row's own additions (context, service instructions) follow the project's
                # system prompt; they stay after the artifact's prompt that replaces it.
                own = str(messages[0]["content"] or "")
                prompt += own[len(self.default):] if own.startswith(self.default) else ""
                messages = messages[1:]
            swapped.append({**row, "messages": [{"role": "system", "content": prompt}, *messages]})
        return self.inner.predict(swapped)


def local_predictor(project: ProjectSpec, adapter: Path | None) -> LocalPredictor:
    """The project's base model (plus `adapter`), with the project's evaluation settings."""
    return LocalPredictor(project.base_model, adapter, batch_size=project.evaluation.batch_size,
                          max_new_tokens=project.evaluation.max_new_tokens,
                          precision=project.training.precision, constrained=project.evaluation.constrained,
                          max_prompt_tokens=project.training.max_seq_len,
                          ground_identifiers=project.evaluation.ground_identifiers,
                          stated_values=project.evaluation.stated_values,
                          vocabulary_values=project.evaluation.vocabulary_values,
                          unsaid_required=project.evaluation.unsaid_required,
                          invented_values=project.evaluation.invented_values,
                          name_calibration=project.evaluation.name_calibration,
                          tool_retrieval=project.evaluation.tool_retrieval,
                          fresh_calls=project.evaluation.fresh_calls,
                          named_ids=project.evaluation.named_ids,
                          named_values=project.evaluation.named_values,
                          take_named=project.evaluation.take_named)
