"""`sources:` pulled into spec folders of their own, with their provenance.

For each source: fetch its discovery document, then the training and test payloads it
points at; read each as the seed importer reads a file (UTF-8, JSON object, size and
nesting limits); convert them with `importers.seed.plan_import` against the repository's
own specs; write the result into the source's folder under specs/ (replaced as a whole,
atomically: a folder mcptrain pulled, marked by `SOURCE_MARK`, never a person's). The
pulled specs are then just specs: `validate` and `build` treat them like any other.

A source that is down, times out or sends something unusable is reported and skipped:
its folder keeps what the last good pull wrote, nothing of the bad payload is written,
and the other sources are pulled as usual. `sources.lock.json` (committed with the
specs) records every source's URL, version and content hash; `build` copies it into the
dataset manifest.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcptrain.errors import Diagnostic, MCPTrainError
from mcptrain.fingerprint import sha256_json
from mcptrain.importers.json_document import JsonDocument, parse_json
from mcptrain.importers.seed import plan_import
from mcptrain.sources.fetch import fetch, resolve
from mcptrain.specs.loader import SOURCE_MARK, Specs, pulled_from
from mcptrain.specs.models import SourceSpec
from mcptrain.workspace import SOURCES_LOCK, Workspace


@dataclass
class Pulled:
    name: str
    url: str
    ok: bool
    version: str | None = None
    sha256: str | None = None
    folder: str | None = None
    summary: str = ""
    error: str | None = None
    diagnostics: list[Diagnostic] = field(default_factory=list)

    def provenance(self) -> dict[str, Any]:
        return {"name": self.name, "url": self.url, "version": self.version, "sha256": self.sha256,
                "folder": self.folder}


def pull_sources(ws: Workspace, specs: Specs, sources: list[SourceSpec]) -> list[Pulled]:
    results = [pull_source(ws, specs, source) for source in sources]
    lock = read_lock(ws.root)
    entries = {e["name"]: e for e in lock.get("sources", [])}
    for r in results:
        if r.ok:
            entries[r.name] = {**r.provenance(), "pulled_at": _now()}
        elif r.name in entries:
            entries[r.name] = {**entries[r.name], "last_error": r.error}
    from mcptrain.files import write_json

    write_json(ws.root / SOURCES_LOCK, {"sources": [entries[s.name] for s in sources if s.name in entries]})
    return results


def read_lock(root: Path) -> dict[str, Any]:
    """`sources.lock.json`, or {} without one."""
    path = root / SOURCES_LOCK
    if not path.is_file():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    return data if isinstance(data, dict) else {}


def pull_source(ws: Workspace, specs: Specs, source: SourceSpec) -> Pulled:
    result = Pulled(source.name, source.url, ok=False)
    try:
        docs = _download(source, result)
        folder = _write(ws, specs, source, docs, result)
    except MCPTrainError as e:
        result.error = e.message
        return result
    result.ok, result.folder = True, folder
    return result


def _download(source: SourceSpec, result: Pulled) -> list[JsonDocument]:
    discovery = _document(source, source.url, result)
    name = discovery.data.get("service")
    name = name.get("name") if isinstance(name, dict) else name
    if name != source.name:
        raise MCPTrainError(f"{source.url}: publishes service {name!r}, not {source.name!r}")
    result.version = str(discovery.data.get("version")) if discovery.data.get("version") is not None else None
    docs = [discovery]
    for key, section in (("training_dataset", "training_data"), ("test_dataset", "test_data")):
        endpoint = _endpoint(discovery.data, key, section)
        if endpoint is not None:
            docs.append(_document(source, _same_origin(source, resolve(source.url, endpoint)), result))
    result.sha256 = sha256_json([d.data for d in docs])
    return docs


def _document(source: SourceSpec, url: str, result: Pulled) -> JsonDocument:
    diags: list[Diagnostic] = []
    doc = parse_json(fetch(source, url), url, diags)
    if doc is None:
        result.diagnostics += diags
        raise MCPTrainError(f"{url}: {diags[0].message}")
    return doc


def _same_origin(source: SourceSpec, url: str) -> str:
    """`url` when it is on the source's own scheme, host and port: the bearer token is the
    source's, and a discovery document must not send it anywhere else."""
    if _origin(url) != _origin(source.url):
        raise MCPTrainError(f"{source.url}: its discovery document points at {_origin(url)}, not at "
                            f"{_origin(source.url)}; the token is sent only to the source's own address",
                            hint="point the source's url at the host that serves the datasets")
    return url


def _origin(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:  # a port that is no number: the whole address stands for itself
        return url
    return f"{parts.scheme}://{parts.hostname or ''}" + (f":{port}" if port else "")


def _endpoint(data: dict[str, Any], key: str, section: str) -> str | None:
    block = data.get(section)
    if isinstance(block, dict) and isinstance(block.get("endpoint"), str):
        return str(block["endpoint"]) if block.get("available", True) else None
    endpoints = data.get("endpoints")
    if isinstance(endpoints, dict) and isinstance(endpoints.get(key), str):
        return str(endpoints[key])
    return None


def _write(ws: Workspace, specs: Specs, source: SourceSpec, docs: list[JsonDocument], result: Pulled) -> str:
    own = {svc for svc, b in specs.services.items()
           if any(pulled_from(ws.root, f.path) == source.name for f in b.files())}
    others = dataclasses.replace(specs, services={k: v for k, v in specs.services.items() if k not in own})
    plan = plan_import(docs, others)
    if plan.errors:
        result.diagnostics += plan.errors
        first = plan.errors[0]
        raise MCPTrainError(f"{first.path}: {first.where + ': ' if first.where else ''}{first.message} "
                            f"({len(plan.errors)} error{'' if len(plan.errors) == 1 else 's'}; nothing written)")
    folders = {"/".join(Path(p.rel).parts[:2]) for p in plan.files}
    if len(folders) != 1:
        raise MCPTrainError(f"{source.url}: its documents would write into {', '.join(sorted(folders)) or 'nothing'}; "
                            "a source fills exactly one folder of its own")
    (folder,) = folders
    target = ws.root / folder
    if target.exists() and not (target / SOURCE_MARK).is_file():
        raise MCPTrainError(f"{folder}/ exists and was not pulled (no {SOURCE_MARK}); a source never overwrites "
                            "a person's specs", )
    staging = ws.state_dir / "pull" / source.name
    shutil.rmtree(staging, ignore_errors=True)
    for planned in plan.files:
        path = staging / Path(planned.rel).relative_to(folder)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(planned.text, encoding="utf-8")
    (staging / SOURCE_MARK).write_text(json.dumps(result.provenance() | {"folder": folder}, indent=2) + "\n",
                                       encoding="utf-8")
    _swap(staging, target)
    result.summary = "; ".join(plan.summaries.values())
    return folder


def _swap(staging: Path, target: Path) -> None:
    """Replace `target` with `staging`: the old folder is moved aside first, so a crash
    leaves either folder whole, never a mix."""
    old = staging.with_name(staging.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        os.replace(target, old)
    os.replace(staging, target)
    shutil.rmtree(old, ignore_errors=True)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
