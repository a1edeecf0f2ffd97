"""A message's content as text, in either of the shapes chat APIs give it.

OpenAI-style messages carry `content` as a string or as a list of parts
(`[{"type": "text", "text": ...}, {"type": "image_url", ...}]`); the seed importer, the
output parser and the grounding rules all read it through this one function.
"""

from __future__ import annotations

from typing import Any


def content_text(content: Any, sep: str = "") -> Any:
    """`content` as text: a string as it is; a list of parts as their text parts joined by
    `sep` (parts without string text, such as images, are left out); anything else
    unchanged, for the caller to name what is wrong with it."""
    if isinstance(content, list):
        return sep.join(p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
    return content
