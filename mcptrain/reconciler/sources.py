"""The build stage's record: the bytes of every spec file, and what the build made of them.

A `reconcile` whose spec files (mcptrain.yaml, specs/, policies/) are byte for byte the
ones the last build read, and whose `datasets/` still holds that build's dataset, skips
validate and build entirely: the no-op path reads the files' bytes and a few records,
nothing more (README, "Speed"). The record also keeps what the plan needs from the specs
(`Facts`: the gate policies, each service's threshold and criticality, the surface the
version bump compares), so the no-op path never loads the specs either.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mcptrain import __version__
from mcptrain.dataset.store import pointer_md5
from mcptrain.promotion.surface import capture_surface
from mcptrain.reconciler.records import inputs_hash, read_record, write_record
from mcptrain.specs.loader import Specs, find_spec_files
from mcptrain.specs.models import GatePolicySpec
from mcptrain.workspace import Workspace

BUILD = "build"


@dataclass(frozen=True)
class Facts:
    """What the plan and the gate read from the specs beyond the dataset."""

    policies: list[GatePolicySpec]
    thresholds: dict[str, float | None]  # each Service's own min_threshold
    critical: tuple[str, ...]  # services marked critical: true
    surface: dict[str, Any]  # what the version bump compares (promotion/surface.py)

    @classmethod
    def of(cls, specs: Specs) -> Facts:
        services = {n: b.service.spec for n, b in specs.services.items() if b.service is not None}
        return cls([p.spec for p in specs.policies], {n: s.min_threshold for n, s in sorted(services.items())},
                   tuple(sorted(n for n, s in services.items() if s.critical)), capture_surface(specs))

    def as_dict(self) -> dict[str, Any]:
        return {"policies": [p.model_dump(mode="json", by_alias=True) for p in self.policies],
                "thresholds": self.thresholds, "critical": list(self.critical), "surface": self.surface}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Facts:
        return cls([GatePolicySpec.model_validate(p) for p in data["policies"]], dict(data["thresholds"]),
                   tuple(data["critical"]), dict(data["surface"]))


def source_files(root: Path) -> dict[str, str]:
    """{path relative to the root: sha256 of its bytes} for every spec file."""
    return {path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in find_spec_files(root)}


def build_inputs(files: dict[str, str]) -> str:
    return inputs_hash({"files": files, "mcptrain": __version__})


def recorded_build(ws: Workspace, files: dict[str, str], *, dvc: bool,
                   push: bool = False) -> tuple[dict[str, Any], Facts] | None:
    """The last build's record and facts, when it read exactly `files` and its dataset is
    still in `datasets/` (and, with DVC, still what datasets.dvc points at; with `push`,
    pushed to the remote)."""
    record = read_record(ws, BUILD)
    if record is None or record["inputs"] != build_inputs(files):
        return None
    outputs = record["outputs"]
    try:
        manifest = json.loads((ws.dataset_dir / "manifest.json").read_text(encoding="utf-8"))
        facts = Facts.from_dict(outputs["facts"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if manifest.get("content_hash") != outputs.get("content_hash"):
        return None
    if not all((ws.dataset_dir / name).is_file() for name in manifest.get("files", {})):
        return None
    if dvc and (outputs.get("dvc_md5") is None or outputs["dvc_md5"] != pointer_md5(ws.root)):
        return None
    if push and not outputs.get("pushed"):
        return None
    return record, facts


def record_build(ws: Workspace, files: dict[str, str], content_hash: str, facts: Facts, *, dvc: bool,
                 pushed: bool = False) -> None:
    write_record(ws, BUILD, build_inputs(files), {
        "files": files, "content_hash": content_hash, "facts": facts.as_dict(),
        "dvc_md5": pointer_md5(ws.root) if dvc else None, "pushed": dvc and pushed})


def changed_files(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """`path changed` / `path added` / `path removed`, sorted by path."""
    out = []
    for path in sorted(set(before) | set(after)):
        if path not in before:
            out.append(f"{path} added")
        elif path not in after:
            out.append(f"{path} removed")
        elif before[path] != after[path]:
            out.append(f"{path} changed")
    return out


def grouped(files: dict[str, str]) -> dict[str, str]:
    """One fingerprint per input a person names: mcptrain.yaml, each policy file, each
    service folder (specs/<dir>/, all its files together)."""
    groups: dict[str, dict[str, str]] = {}
    for path, digest in files.items():
        parts = path.split("/")
        name = f"{parts[0]}/{parts[1]}/" if parts[0] == "specs" and len(parts) > 2 else path
        groups.setdefault(name, {})[path] = digest
    return {name: (next(iter(g.values())) if len(g) == 1 and not name.endswith("/") else inputs_hash(g))
            for name, g in sorted(groups.items())}
