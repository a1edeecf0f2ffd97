"""Hashes of JSON-able data: the one canonical form (sorted keys) every fingerprint uses.

Stage inputs, the output cache, build-cache keys and artifact versions are all
`sha256_json` of their inputs, so equal inputs give equal keys in every room.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any


def canonical_json(data: Any, *, ensure_ascii: bool = False) -> str:
    """`data` as JSON with sorted keys; values JSON cannot hold are written as `str(value)`.

    `ensure_ascii=True` is kept for the keys first computed that way (the dataset's content
    hash, the build cache, LoRA run and OpenAI job fingerprints): changing it would re-key
    what users already have on disk whenever their specs hold non-ASCII text.
    """
    return json.dumps(data, sort_keys=True, ensure_ascii=ensure_ascii, default=str)


def sha256_json(data: Any, *, ensure_ascii: bool = False) -> str:
    """The hex sha256 of `canonical_json(data)`."""
    return hashlib.sha256(canonical_json(data, ensure_ascii=ensure_ascii).encode("utf-8")).hexdigest()
