"""Secrets never leave in text mcptrain writes for others to read (a pull-request comment, say).

Two nets: the values of the environment's secret-looking variables (`GITHUB_TOKEN`,
`OPENAI_API_KEY`, anything named *TOKEN*, *SECRET*, *PASSWORD*, *KEY*), and the shapes of
well-known tokens (GitHub's `ghp_`/`github_pat_`/..., OpenAI's `sk-`, AWS access key ids),
for a secret pasted into a spec by mistake.
"""

from __future__ import annotations

import os
import re

REDACTED = "[redacted]"
_NAMES = re.compile(r"TOKEN|SECRET|PASSWORD|PASSWD|API_KEY|ACCESS_KEY|PRIVATE_KEY|CREDENTIALS", re.I)
_SHAPES = re.compile(
    r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|sk-(?:proj-)?[A-Za-z0-9_-]{20,}"
    r"|AKIA[0-9A-Z]{16})\b")
MIN_LENGTH = 8  # shorter values ("1", "true") would redact ordinary words


def redact(text: str, environ: dict[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    values = sorted({v for k, v in env.items() if _NAMES.search(k) and len(v) >= MIN_LENGTH}, key=len, reverse=True)
    for value in values:
        text = text.replace(value, REDACTED)
    return _SHAPES.sub(REDACTED, text)
