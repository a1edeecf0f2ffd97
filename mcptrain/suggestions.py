"""`did you mean ...?` for a misspelt key, kind, backend or name."""

from __future__ import annotations

from collections.abc import Iterable

# rapidfuzz's WRatio: at 70, 'invoice' finds 'invoice_id' and 'amout' finds 'amount',
# while unrelated short words do not match each other.
CUTOFF = 70


def did_you_mean(word: str, options: Iterable[str]) -> str | None:
    """The hint for `word` when one of `options` is close enough, else None."""
    from rapidfuzz import process

    choices = list(options)
    if not choices:
        return None
    best = process.extractOne(word, choices, score_cutoff=CUTOFF)
    return f"did you mean {best[0]!r}?" if best else None
