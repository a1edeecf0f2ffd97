"""The per-service build cache: `.mcptrain/cache/build/<service>-<fingerprint>.json`.

A service's compiled rows depend only on its own spec files and the project's
`row_settings`, so the fingerprint of those is the cache key; an organisation where
one team changed one file recompiles one service.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from mcptrain.dataset.compiler import CompiledService
from mcptrain.files import replace_file
from mcptrain.fingerprint import canonical_json
from mcptrain.specs.loader import ServiceBundle
from mcptrain.workspace import STATE_DIR

CACHE_DIR = Path(STATE_DIR) / "cache" / "build"


def service_fingerprint(root: Path, bundle: ServiceBundle, settings: dict[str, Any]) -> str:
    h = hashlib.sha256()
    h.update(canonical_json({"service": bundle.name, "settings": settings}, ensure_ascii=True).encode())
    for path in sorted(f.path for f in bundle.files()):
        h.update(b"\0" + path.encode() + b"\0")
        h.update(hashlib.sha256((root / path).read_bytes()).digest())
    return h.hexdigest()


def load_cached(root: Path, service: str, fingerprint: str) -> CompiledService | None:
    path = root / CACHE_DIR / f"{service}-{fingerprint}.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # missing or damaged: compile again
    if not isinstance(data, dict) or data.get("fingerprint") != fingerprint:
        return None
    return CompiledService(service, data["tools"], data["rows"])


def store(root: Path, compiled: CompiledService, fingerprint: str) -> None:
    """Write the entry and drop the service's older ones."""
    folder = root / CACHE_DIR
    name = f"{compiled.name}-{fingerprint}.json"
    replace_file(folder / name, json.dumps(
        {"fingerprint": fingerprint, "tools": compiled.tools, "rows": compiled.rows},
        ensure_ascii=False, sort_keys=True))
    stale = re.compile(re.escape(compiled.name) + r"-[0-9a-f]{64}\.json")
    for old in folder.iterdir():
        if old.name != name and stale.fullmatch(old.name):
            old.unlink(missing_ok=True)
