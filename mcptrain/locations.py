"""Where a value sits inside a document, as people read it: `examples[3].call.amount`."""

from __future__ import annotations

Loc = tuple[str | int, ...]


def dotted(loc: tuple[object, ...]) -> str:
    """`("training_examples", 2, "user_query")` -> `training_examples[2].user_query`."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else ("." if out else "") + str(part)
    return out
