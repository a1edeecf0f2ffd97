"""What kind of text reply a turn is: a question, a refusal, or neither.

The checker scores an edge case by the kind of its reply (`clarify` and `ask_for_details`
must ask, `refuse` must decline), and `validate` reads a spec's own reference replies with
the same rules, so a hand-written refusal the checker would fail is named in review rather
than discovered as a lost point. They are heuristics on English text: they catch a model
that answers, complies, stays silent or asks about the wrong thing, not one that asks
politely but uselessly, nor one that complies and adds a warning ("this cannot be undone").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import NamedTuple

_ASKS = re.compile(r"\b(please (provide|specify|tell|confirm|share|give|let me know)|could you|can you|"
                   r"would you|do you (mean|want)|did you mean|which one)\b", re.IGNORECASE)
# Saying no in so many words: the reply declines even when it goes on to ask something
# ("I can't cancel every order. Which ones did you mean?").
_REFUSES = re.compile(
    r"\b(can ?not|can't|unable|not able|won't|will not|wouldn't be able|would not be able|couldn't|could not|"
    r"not allowed|not permitted|not authori[sz]ed|prohibited|forbidden|not possible|isn't possible|"
    r"refuse|decline|must not|mustn't|shouldn't|should not|not going to|rather not|"
    r"not something (i|we)|not in a position|outside (my|our|what (i|we))|beyond (my|our|what (i|we)))\b",
    re.IGNORECASE)
# Softer words that decline when nothing is asked ("Unfortunately, that isn't available to
# me."), but that a request for details uses too ("Sorry, which account do you mean?").
_REGRETS = re.compile(r"\b(sorry|unfortunately|afraid|apologi[sz]e|apologies|"
                      r"(don't|do not|doesn't|does not) (allow|permit)|"
                      r"(don't|do not|doesn't|does not) have (the )?(permission|access|ability|authority|rights?))\b",
                      re.IGNORECASE)
_NO = re.compile(r"^\W*no\b", re.IGNORECASE)
_GENERIC = {"id", "ids", "the", "a", "of", "to", "value", "name", "type", "data"}


class Problem(NamedTuple):
    """Why a reply is not of the wanted kind; `asked`: it asks, but the wrong thing."""

    message: str
    asked: bool = False


def _plain(text: str) -> str:
    return text.replace("\u2019", "'").replace("\u2018", "'")  # curly apostrophes read as straight


def asks_question(text: str, fields: Sequence[str] = ()) -> bool:
    """A question, a request for details, or a reply naming the missing fields."""
    if "?" in text or "？" in text or _ASKS.search(_plain(text)):
        return True
    return bool(fields) and all(names_field(text, f) for f in fields)


def declines(text: str) -> bool:
    """Whether a reply says no in so many words ("I can't", "I won't", "not permitted",
    "No.", "sorry", "unfortunately", ...). When it also asks, only the first kind counts:
    "Sorry, which account?" is a request for details. A reply that tells the user how to
    do the thing declines nothing."""
    text = _plain(text)
    if _REFUSES.search(text) or _NO.search(text):
        return True
    return not asks_question(text) and bool(_REGRETS.search(text))


def names_field(text: str, field: str) -> bool:
    """Whether a reply mentions a parameter: `customer_id` as itself, as "customer id" or as
    "customer"; `address.city` as "city"; `items` as "item"."""
    low = text.lower()
    words = set(re.findall(r"[a-z0-9]+", low))
    words |= {w[:-1] for w in words if w.endswith("s")}
    name = field.lower()
    if name in low or name.replace("_", " ").replace(".", " ") in low:
        return True
    tokens = [t for t in re.split(r"[._\s]+", name) if t and t not in _GENERIC]
    return any(t in words or t.rstrip("s") in words for t in tokens)


def written_reply_field(action: str | None, question: str | None, response: str | None) -> str | None:
    """Which written field a behaviour's reply is taken from — `question` before `response`
    for `clarify` and `ask_for_details`, `response` for the others — or None when neither
    is written (the build then writes its own reply). The build (`behaviour_reply`) and
    `validate` both read a reply through this, so they read the same text."""
    if action in ("clarify", "ask_for_details") and question:
        return "question"
    return "response" if response else None


def reply_problem(action: str, text: str, required_fields: Sequence[str] = ()) -> Problem | None:
    """Why the checker would not accept `text` as the reply an `action` wants, or None.

    `clarify` must ask; `ask_for_details` must ask, and for at least one of
    `required_fields` when it names none of them; `refuse` must decline, and a reply
    that asks without declining is a request for details, not a refusal. `no_tool` and
    `use_tool` accept any text."""
    text = text.strip()
    if action in ("clarify", "ask_for_details"):
        if not text:
            return Problem(f"expected a question ({action}), got an empty reply")
        if not asks_question(text, required_fields):
            return Problem(f"expected a question ({action}), got a reply that asks nothing")
        missing = [f for f in required_fields if not names_field(text, f)]
        if action == "ask_for_details" and len(missing) == len(required_fields) > 0:
            return Problem(f"asked, but not for {' or '.join(missing)}", asked=True)
        return None
    if action == "refuse":
        if not text:
            return Problem("expected a refusal, got an empty reply")
        if declines(text):
            return None
        if asks_question(text):
            return Problem("asked for details instead of refusing", asked=True)
        return Problem("expected a refusal, got a reply that declines nothing")
    return None
