"""The per-service build cache: `.mcptrain/cache/build/<service>-<fingerprint>.json`.

A service's compiled rows depend on its own spec files, the project's `row_settings`,
and the tool and service files of the services its rows span. The fingerprint of the
first two is the cache key; the entry records the interface fingerprint of each spanned
service and is reused only while those still match. An organisation where one team
changed one example recompiles one service (a changed tool recompiles the services whose
rows offer it).
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
# The compiled rows' shape: raised whenever the compiler writes rows differently (2: rows
# carry `canonical_values`; 3: terms of other services in the row too), so an upgraded mcptrain never reuses rows an older one wrote.
ROWS_VERSION = 3


def service_fingerprint(root: Path, bundle: ServiceBundle, settings: dict[str, Any]) -> str:
    h = hashlib.sha256()
    h.update(canonical_json({"service": bundle.name, "settings": settings, "rows_version": ROWS_VERSION},
                            ensure_ascii=True).encode())
    for path in sorted(f.path for f in bundle.files()):
        h.update(b"\0" + path.encode() + b"\0")
        h.update(hashlib.sha256((root / path).read_bytes()).digest())
    return h.hexdigest()


def load_cached(root: Path, service: str, fingerprint: str,
                interfaces: dict[str, str] | None = None) -> CompiledService | None:
    """The cached rows, if the entry exists and every spanned service is unchanged."""
    path = root / CACHE_DIR / f"{service}-{fingerprint}.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # missing or damaged: compile again
    if not isinstance(data, dict) or data.get("fingerprint") != fingerprint:
        return None
    depends = data.get("depends_on") or {}
    if any((interfaces or {}).get(name) != fp for name, fp in depends.items()):
        return None
    tool_sets = [list(t) for t in data.get("tool_sets", [])]
    for row in data["rows"]:
        if isinstance(row.get("tools"), int):
            row["tools"] = tool_sets[row["tools"]]  # shared again, as compiled
    return CompiledService(service, data["tools"], data["rows"], sorted(depends))


def store(root: Path, compiled: CompiledService, fingerprint: str,
          interfaces: dict[str, str] | None = None) -> None:
    """Write the entry and drop the service's older ones. Each distinct tools list is
    written once; rows refer to it by position."""
    folder = root / CACHE_DIR
    name = f"{compiled.name}-{fingerprint}.json"
    tool_sets: list[Any] = []
    positions: dict[int, int] = {}
    rows = []
    for row in compiled.rows:
        tools = row.get("tools")
        if isinstance(tools, list):
            if id(tools) not in positions:
                positions[id(tools)] = len(tool_sets)
                tool_sets.append(tools)
            row = {**row, "tools": positions[id(tools)]}
        rows.append(row)
    depends = {n: (interfaces or {}).get(n, "") for n in compiled.depends_on}
    replace_file(folder / name, json.dumps(
        {"fingerprint": fingerprint, "tools": compiled.tools, "rows": rows, "tool_sets": tool_sets,
         "depends_on": depends}, ensure_ascii=False, sort_keys=True))
    stale = re.compile(re.escape(compiled.name) + r"-[0-9a-f]{64}\.json")
    for old in folder.iterdir():
        if old.name != name and stale.fullmatch(old.name):
            old.unlink(missing_ok=True)
