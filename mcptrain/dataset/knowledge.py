"""A service's domain knowledge, for the model and for the checker.

`system_text`: with `prompt.domain_knowledge` on, the service's vocabulary rules ("amounts
are integer cents") and canonical values (what users say instead) follow the project's
system prompt in every row of the service. The compiler puts it in the rows' system turn,
so every backend sees the same text in training and in evaluation: the LoRA loop and the
OpenAI export train on those rows, the prompt backend builds on the same system turn, and
evaluation prompts are the rows' own messages.

`row_mistakes`: the wrong calls a row's checker should name when an output makes one:
the example's documented `common_mistakes`, and the unit slips its vocabulary rules imply
(an amount in dollars where cents were asked, or in cents times 100 twice).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mcptrain.specs import models as s

# unit -> (factor, what the slip is) for the values a unit rule makes likely to be wrong
UNIT_SLIPS: dict[str, tuple[tuple[float, str], ...]] = {
    "cents": ((1 / 100, "amount in dollars, not cents"), (100, "amount in dollars×100 twice")),
    "seconds": ((1 / 60, "minutes, not seconds"), (1 / 3600, "hours, not seconds")),
    "minutes": ((60, "seconds, not minutes"), (1 / 60, "hours, not minutes")),
}


def system_text(system_prompt: str, vocabularies: Sequence[s.VocabularySpec], enabled: bool) -> str:
    """The system turn of a service's rows: the project's prompt, then (when enabled) its
    domain knowledge."""
    block = domain_knowledge(vocabularies) if enabled else ""
    return f"{system_prompt}\n\n{block}" if block else system_prompt


def domain_knowledge(vocabularies: Sequence[s.VocabularySpec]) -> str:
    rules = [rule_line(r) for v in vocabularies for r in v.rules]
    terms = [term_line(t) for v in vocabularies for t in v.terms]
    parts = []
    if rules:
        parts.append("Rules for arguments:\n" + "\n".join(rules))
    if terms:
        parts.append("Use the canonical values:\n" + "\n".join(terms))
    return "\n\n".join(parts)


def rule_line(rule: s.RuleSpec) -> str:
    words = [f"- {rule.parameter}"]
    if rule.unit:
        words.append(f"in {str(rule.unit).replace('_', ' ')}")
    text = ": " + ", ".join(words[1:]) if len(words) > 1 else ""
    if rule.rule:
        text += ("; " if text else ": ") + rule.rule.rstrip(".")
    pairs = [f"{e['user_says']!s} -> {e['value']!s}" for e in rule.examples if {"user_says", "value"} <= set(e)]
    if pairs:
        text += f" (e.g. {'; '.join(pairs[:3])})"
    return words[0] + text


def term_line(term: s.TermSpec) -> str:
    values = [f"{canonical} (users say: {', '.join(said)})" if said else canonical
              for canonical, said in term.values.items()]
    return f"- {term.parameter}: {'; '.join(values)}"


def row_mistakes(calls: list[tuple[str, dict[str, Any]]], documented: Sequence[s.MistakeSpec],
                 rules: Sequence[s.RuleSpec]) -> list[dict[str, Any]]:
    """`[{"call": {name: args}, "reason": ...}]` for a single-call row (none for others)."""
    if len(calls) != 1:
        return []
    (name, args), out = calls[0], []
    for m in documented:
        ((wrong_name, wrong_args),) = m.wrong.items()
        out.append({"call": {wrong_name: dict(wrong_args)}, "reason": m.reason})
    for rule in rules:
        tool, _, param = rule.parameter.rpartition(".")
        value = args.get(param)
        if tool != name or rule.unit is None or isinstance(value, bool) or not isinstance(value, int | float):
            continue
        for factor, reason in UNIT_SLIPS.get(str(rule.unit), ()):
            slipped = value * factor
            slipped = int(slipped) if float(slipped).is_integer() else slipped
            if slipped != value:
                out.append({"call": {name: {**args, param: slipped}}, "reason": reason})
    return out
