"""`datasets/`: validate, compile (cached per service), split, decontaminate, export,
check, and swap the new directory in atomically.

Everything is written into `datasets.tmp-<pid>/` first; the old directory is renamed
aside and the new one renamed into place, so an interrupted build leaves the previous
dataset whole (and the next build finishes or undoes a half-done swap).
"""

from __future__ import annotations

import gc
import hashlib
import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mcptrain import output
from mcptrain.dataset.build_cache import load_cached, service_fingerprint, store
from mcptrain.dataset.compiler import CompiledService, Row, compile_service, row_settings
from mcptrain.dataset.contamination import Removal, find_contamination
from mcptrain.dataset.directory import Directory, interface_fingerprint
from mcptrain.dataset.exporters import LineEncoder, hf_example, openai_example
from mcptrain.dataset.manifest import MANIFEST_FORMAT, count_rows, quality_report
from mcptrain.dataset.openai_checks import FormatChecker, FormatReport
from mcptrain.dataset.splits import SPLITS, assign_splits, choose_zero_shot_tools, withhold_tools
from mcptrain.errors import ConfigError, Diagnostic, SpecError, StageError
from mcptrain.fingerprint import sha256_json
from mcptrain.specs.loader import Specs
from mcptrain.specs.validator import validate_repository
from mcptrain.workspace import DATASET_DIR

MANIFEST = "manifest.json"
_SCRATCH = re.compile(rf"{DATASET_DIR}\.(tmp|old)-(\d+)")


@dataclass(frozen=True)
class BuildReport:
    path: Path
    manifest: dict[str, Any]
    compiled: list[str]  # services compiled from their specs
    reused: list[str]  # services whose rows came from the build cache
    warnings: int  # validation warnings (errors stop the build)
    removals: list[Removal]
    checks: FormatReport
    rows: list[Row]  # every row written, with its split


def build_dataset(root: Path, loaded: tuple[Specs, list[Diagnostic]] | None = None) -> BuildReport:
    """Build `<root>/datasets/`. Raises SpecError when the specs do not validate."""
    with output.progress("validating specs", None):
        result = validate_repository(root, loaded)
    if result.errors:
        raise SpecError(result.errors)
    if result.specs.file_count == 0:
        raise ConfigError(f"{root} holds no specs (no mcptrain.yaml, specs/ or policies/); "
                          "run `mcptrain init` there first")
    project = result.specs.project_spec
    config = project.splits
    paused = gc.isenabled()
    gc.disable()  # hundreds of thousands of small dicts, none of them cyclic garbage
    try:
        services, fingerprints, compiled, reused = _compile(root, result.specs.services, project)
        tools_by_service = {n: [t["function"]["name"] for t in cs.tools] for n, cs in services.items()}
        critical = [n for n, b in result.specs.services.items() if b.service and b.service.spec.critical]
        zero_shot = choose_zero_shot_tools(tools_by_service, config, critical)
        rows = [row for cs in services.values() for row in cs.rows]
        assign_splits(rows, config, zero_shot)
        resampled = 0
        if project.data.resample_values:
            rows, resampled = resample_training_rows(rows, config.seed)
        with output.progress("checking contamination", len(services)) as advance:
            removals = find_contamination(rows, config.near_duplicate_threshold, advance)
        removed = {r.id for r in removals}
        rows = [row for row in rows if row["id"] not in removed]
        withheld = withhold_tools(rows, zero_shot)
        manifest: dict[str, Any] = {
            "format": MANIFEST_FORMAT,
            "project": project.name,
            "seed": config.seed,
            "splits_config": config.model_dump(mode="json"),
            "spec_fingerprint": _combine({"services": fingerprints, "splits": config.model_dump(mode="json"),
                                          "data": project.data.model_dump(mode="json")}),
            "resampled_rows": resampled,
            "service_fingerprints": fingerprints,
            "zero_shot_tools": {n: sorted(t for t in names if (n, t) in zero_shot)
                                for n, names in tools_by_service.items()},
            "zero_shot_withheld_rows": withheld,
            "counts": count_rows(rows),
            "contamination": {"threshold": config.near_duplicate_threshold, "removed": len(removals),
                              "rows": [r.as_dict() for r in removals]},
            "quality": quality_report(rows, tools_by_service, zero_shot),
            "sources": _provenance(root),
        }
        path, checks = write_dataset(root, rows, manifest)
    finally:
        if paused:
            gc.enable()
    return BuildReport(path, manifest, compiled, reused, len(result.warnings), removals, checks, rows)


def _provenance(root: Path) -> list[dict[str, Any]]:
    """Every pulled source's URL, version and content hash (`mcptrain pull`'s lock file)."""
    from mcptrain.workspace import SOURCES_LOCK

    path = root / SOURCES_LOCK
    if not path.is_file():
        return []
    data = json.loads(path.read_text(encoding="utf-8"))
    return list(data.get("sources", [])) if isinstance(data, dict) else []


def compile_rows(specs: Specs) -> list[Row]:
    """Every service's rows, compiled in memory (no cache, no splits): for checks before a build."""
    project = specs.project_spec
    directory = Directory.of(specs.services)
    return [row for name in sorted(specs.services)
            for row in compile_service(specs.services[name], project, directory).rows]


def resample_training_rows(rows: list[Row], seed: int) -> tuple[list[Row], int]:
    """Training examples with their literal values re-sampled (`mcptrain/resample.py`)."""
    from mcptrain.dataset.resample import resample_row

    out: list[Row] = []
    changed = 0
    for row in rows:
        fresh = (resample_row(row, seed, row.get("tools") or [])
                 if row["split"] == "train" and row["kind"] == "example" else None)
        changed += fresh is not None
        out.append(fresh if fresh is not None else row)
    return out, changed


def _compile(root: Path, bundles: dict[str, Any], project: Any) -> tuple[
        dict[str, CompiledService], dict[str, str], list[str], list[str]]:
    settings = row_settings(project)
    services: dict[str, CompiledService] = {}
    fingerprints: dict[str, str] = {}
    compiled: list[str] = []
    reused: list[str] = []
    directory = Directory.of(bundles)
    interfaces = {name: interface_fingerprint(root, bundle) for name, bundle in bundles.items()}
    with output.progress("compiling services", len(bundles)) as advance:
        for name in sorted(bundles):
            fp = service_fingerprint(root, bundles[name], settings)
            cs = load_cached(root, name, fp, interfaces)
            if cs is None:
                cs = compile_service(bundles[name], project, directory)
                store(root, cs, fp, interfaces)
                compiled.append(name)
            else:
                reused.append(name)
            services[name] = cs
            fingerprints[name] = fp
            advance(status=name)
    return services, fingerprints, compiled, reused


def write_dataset(root: Path, rows: list[Row], manifest: dict[str, Any]) -> tuple[Path, FormatReport]:
    """Write every file into a scratch directory, then swap it in. Adds `files` and
    `content_hash` (of every file but the manifest) and `openai_checks` to `manifest`."""
    recover_interrupted(root)
    tmp = root / f"{DATASET_DIR}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        files, checks = _write_files(tmp, rows)
        manifest["files"] = files
        manifest["content_hash"] = content_hash(files)
        manifest["openai_checks"] = checks.as_dict()
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n",
                                    encoding="utf-8")
        _swap(root, tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return root / DATASET_DIR, checks


def content_hash(files: dict[str, dict[str, Any]]) -> str:
    listing = "".join(f"{info['sha256']}  {name}\n" for name, info in sorted(files.items()))
    return hashlib.sha256(listing.encode()).hexdigest()


def _write_files(tmp: Path, rows: list[Row]) -> tuple[dict[str, dict[str, Any]], FormatReport]:
    by_split: dict[str, list[Row]] = {s: [] for s in SPLITS}
    for row in rows:
        by_split[row["split"]].append(row)
    (tmp / "openai").mkdir(parents=True)
    (tmp / "hf").mkdir()
    encoder = LineEncoder()
    checker = FormatChecker()
    files: dict[str, dict[str, Any]] = {}
    problems: list[str] = []
    with output.progress("writing datasets/", len(rows)) as advance:
        for split, items in by_split.items():
            names = (f"{split}.jsonl", f"openai/{split}.jsonl", f"hf/{split}.jsonl")
            writers = [_Writer(tmp / n) for n in names]
            try:
                for i, row in enumerate(items):
                    row_tools = row["tools"]
                    oa = openai_example(row, row_tools)
                    errors = checker.check(oa)
                    if errors and len(problems) < 10:
                        problems.append(f"{row['id']}: {', '.join(errors)}")
                    try:
                        lines = (encoder.line(row), encoder.line(oa),
                                 encoder.line(hf_example(row, row_tools)))
                    except ValueError as e:
                        raise StageError(f"{row['service']}: row {row['id']!r}: {e}") from None
                    for writer, line in zip(writers, lines, strict=True):
                        writer.write(line)
                    if i % 256 == 255:
                        advance(256, status=split)
                advance(len(items) % 256, status=split)
            finally:
                for writer in writers:
                    writer.close()
            for name, writer in zip(names, writers, strict=True):
                files[name] = {"rows": writer.lines, "bytes": writer.size, "sha256": writer.digest.hexdigest()}
    if problems:  # the exporter wrote something OpenAI would reject: a bug, not a spec problem
        raise RuntimeError("the OpenAI export failed its format checks: " + "; ".join(problems))
    return files, checker.report


class _Writer:
    def __init__(self, path: Path) -> None:
        self.file = open(path, "wb", buffering=1 << 20)  # noqa: SIM115 - closed by close()
        self.digest = hashlib.sha256()
        self.lines = 0
        self.size = 0

    def write(self, line: str) -> None:
        data = line.encode("utf-8")
        self.file.write(data)
        self.digest.update(data)
        self.lines += 1
        self.size += len(data)

    def close(self) -> None:
        self.file.close()


def _swap(root: Path, tmp: Path) -> None:
    final = root / DATASET_DIR
    old = root / f"{DATASET_DIR}.old-{os.getpid()}"
    if final.exists():
        os.rename(final, old)
    os.rename(tmp, final)
    shutil.rmtree(old, ignore_errors=True)


def recover_interrupted(root: Path) -> None:
    """Undo what a killed build left behind: its scratch copy, or a swap half done."""
    final = root / DATASET_DIR
    for entry in sorted(root.iterdir()) if root.is_dir() else []:
        m = _SCRATCH.fullmatch(entry.name)
        if m is None or _alive(int(m.group(2))):
            continue
        if m.group(1) == "old" and not final.exists():
            os.rename(entry, final)  # the previous dataset, renamed aside just before the crash
        else:
            shutil.rmtree(entry, ignore_errors=True)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _combine(inputs: dict[str, Any]) -> str:
    return sha256_json(inputs, ensure_ascii=True)
