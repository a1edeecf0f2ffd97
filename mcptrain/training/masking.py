"""Tool-name masking: training rows that offer their tools under made-up names.

A model fine-tuned on an organisation's tools learns their names as much as their use:
asked for a tool it was never trained on (the zero-shot split), it calls the trained tool
whose name it remembers. Hammer (Lin et al., 2024, "Robust function-calling for on-device
language models via function masking") trains on rows whose function names are replaced
by random strings, so the only way to pick the right tool is to read its description.

With `training.mask_tool_names: p`, a share `p` of the training rows (chosen by a seeded
hash of the row id) are rewritten before they are encoded: every tool the row offers gets
a made-up name (`fn_` and six lowercase letters), in the tool block, in the row's calls and
tool results, and wherever the system prompt or a message names it as a whole word. Rows
that shared a tool block still share one after masking: the renaming of a block is one of
`VARIANTS` per block (seeded by the block and the variant), so masked rows batch together
with their shared prefix run once. Validation rows are never masked: the call-or-answer
calibration and the validation loss see the real names, as serving does. Deterministic.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import string
from collections.abc import Sequence
from typing import Any

from mcptrain.dataset.splits import unit_hash

VARIANTS = 3  # renamings per tool block: enough that no made-up name is itself memorised


def mask_rows(rows: Sequence[dict[str, Any]], share: float, seed: int) -> tuple[list[dict[str, Any]], int]:
    """`rows` with a share of them masked (see the module docstring), and how many were."""
    if share <= 0:
        return list(rows), 0
    out: list[dict[str, Any]] = []
    masked = 0
    for row in rows:
        names = offered_names(row)
        if names and unit_hash(seed, f"mask:{row.get('id')}") < share:
            variant = int(unit_hash(seed, f"variant:{row.get('id')}") * VARIANTS)
            out.append(rename_row(row, renaming(names, block_key(row), seed, variant)))
            masked += 1
        else:
            out.append(row)
    return out, masked


def offered_names(row: dict[str, Any]) -> list[str]:
    return [t["function"]["name"] for t in row.get("tools") or []]


def block_key(row: dict[str, Any]) -> str:
    """What decides the row's shared prefix: its system prompt and its tools."""
    system = next((m.get("content") or "" for m in row.get("messages") or [] if m.get("role") == "system"), "")
    return hashlib.sha256(json.dumps([system, row.get("tools") or []], sort_keys=True).encode()).hexdigest()


def renaming(names: Sequence[str], block: str, seed: int, variant: int) -> dict[str, str]:
    """Each name to a distinct made-up name, the same for every row of this block and variant."""
    rng = random.Random(f"{seed}:{block}:{variant}")
    taken = set(names)
    out: dict[str, str] = {}
    for name in sorted(set(names)):
        while True:
            fresh = "fn_" + "".join(rng.choice(string.ascii_lowercase) for _ in range(6))
            if fresh not in taken:
                break
        taken.add(fresh)
        out[name] = fresh
    return out


def rename_row(row: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    """A copy of `row` whose tools go by `names` everywhere the model reads them."""
    words = re.compile(r"(?<![A-Za-z0-9_])(" + "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
                       + r")(?![A-Za-z0-9_])")

    def text(value: Any) -> Any:
        return words.sub(lambda m: names[m.group(1)], value) if isinstance(value, str) else value

    tools = [{**tool, "function": {**tool["function"], "name": names[tool["function"]["name"]],
                                   "description": text(tool["function"].get("description"))}}
             for tool in row.get("tools") or []]
    messages = []
    for message in row.get("messages") or []:
        m = dict(message)
        m["content"] = text(m.get("content"))
        if m.get("name") in names:
            m["name"] = names[m["name"]]
        if m.get("tool_calls"):
            m["tool_calls"] = [{**c, "function": {**c["function"],
                                                  "name": names.get(c["function"].get("name"), c["function"].get("name"))}}
                               for c in m["tool_calls"]]
        messages.append(m)
    return {**row, "tools": tools, "messages": messages}
