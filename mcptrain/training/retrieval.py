"""Which offered tool a request is about, by the words they share: BM25 over the tools.

A fine-tuned model picks a tool by the names it was trained on; asked for a tool it never
saw (the zero-shot split: `create_order` offered next to the trained `list_orders`), it
writes the familiar name. The words of the request say more than that: "place an order"
shares *place* and *order* with `create_order`'s description and only *order* with
`list_orders`'. Tool retrieval (`evaluation.tool_retrieval: beta`) scores every offered
tool's text — its name split into words, its description, its parameters' names,
descriptions and enum values — against what the user said, with BM25 (`bm25s`, English stop words, Snowball
stemming) whose document frequencies are counted over the row's own tools, so a word every
tool shares ("customer") weighs nothing. The scores, divided by the best one, become a
prior over the tools, `beta x score` in nats, that the predictor adds to the model's log
probability of each name while it writes one (`LocalPredictor`, `name_adjustments`): a
product of the two experts, in which the model still decides when it is sure.

On the demo's training and validation rows the retriever alone ranks the expected tool
first (strictly) in 55% and 49% of calling rows (`tests/training/test_retrieval.py` holds
the property that it does better than chance); what it adds to the model is measured on the
validation split (README, "Constrained decoding").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache
from typing import Any

from mcptrain.training.grammar import tool_function

_CAMEL = re.compile(r"([a-z0-9])([A-Z])")


def tool_document(tool: dict[str, Any]) -> str:
    """A tool's words: its name split at `_`, `-`, `.` and camelCase, its description, and
    its parameters' names, descriptions and string enum values (one level of nesting): a
    request says "in the afternoon" to a tool whose `slot` takes `afternoon`."""
    function = tool_function(tool)
    parts = [_words(str(function.get("name", ""))), str(function.get("description") or "")]
    parameters = function.get("parameters") or function.get("inputSchema") or {}
    properties = parameters.get("properties") if isinstance(parameters, dict) else None
    for key, node in (properties or {}).items():
        parts.append(_words(str(key)))
        if not isinstance(node, dict):
            continue
        if isinstance(node.get("description"), str):
            parts.append(node["description"])
        values = node.get("enum")
        if isinstance(values, list):
            parts.extend(_words(v) for v in values if isinstance(v, str))
    return "\n".join(p for p in parts if p)


def _words(identifier: str) -> str:
    return re.sub(r"[_\-.]+", " ", _CAMEL.sub(r"\1 \2", identifier))


@cache
def stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


def _tokens(texts: list[str]) -> list[list[str]]:
    import bm25s

    return bm25s.tokenize(texts, stopwords="en", stemmer=stemmer(), return_ids=False,  # type: ignore[no-any-return]
                          show_progress=False)


def tool_scores(tools: Sequence[dict[str, Any]] | None, text: str) -> dict[str, float]:
    """Each offered tool's BM25 score against `text`, divided by the best score (so the
    best tool scores 1); all 0 when `text` shares no word with any tool, or fewer than two
    tools are offered (nothing to choose)."""
    names = [str(tool_function(t).get("name", "")) for t in tools or []]
    if len(names) < 2:
        return dict.fromkeys(names, 0.0)
    import bm25s

    query = _tokens([_words(text)])[0]
    if not query:
        return dict.fromkeys(names, 0.0)
    index = bm25s.BM25()
    index.index(_tokens([tool_document(t) for t in tools or []]), show_progress=False)
    scores = [float(s) for s in index.get_scores(query)]
    best = max(scores)
    if best <= 0:
        return dict.fromkeys(names, 0.0)
    out: dict[str, float] = {}
    for name, score in zip(names, scores, strict=True):
        out[name] = max(out.get(name, 0.0), score / best)
    return out


def name_token_bonus(spelled: dict[str, tuple[int, ...]], weights: dict[str, float]
                     ) -> dict[tuple[int, ...], dict[int, float]]:
    """A prior over whole names (`weights`: log weights, unnormalised) spread over the names'
    tokens: after the name tokens `P`, the next token `v` gets
    log sum(exp w, names starting P+v) - log sum(exp w, names starting P), so the bonuses
    along a name's tokens add up to its log prior probability among the offered names."""
    import math

    def total(prefix: tuple[int, ...]) -> float:
        values = [weights.get(name, 0.0) for name, own in spelled.items() if own[: len(prefix)] == prefix]
        top = max(values)
        return top + math.log(sum(math.exp(v - top) for v in values))

    bonus: dict[tuple[int, ...], dict[int, float]] = {}
    for own in spelled.values():
        for k, token in enumerate(own):
            prefix = own[:k]
            if token not in bonus.get(prefix, {}):
                bonus.setdefault(prefix, {})[token] = total((*prefix, token)) - total(prefix)
    return bonus
