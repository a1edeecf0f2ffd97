from __future__ import annotations

import gc
import time
from pathlib import Path
from typing import Any

from mcptrain import output
from mcptrain.specs.validate_cache import ValidateCache
from mcptrain.specs.validator import validate_repository
from mcptrain.workspace import Workspace

CACHE_FILE = "summaries.json"


def run(root: Path, *, json_out: bool = False, strict: bool = False, use_cache: bool = True) -> int:
    # The specs are millions of young objects that are never cyclic garbage: a collection
    # scanning them (after loading, while the cache is written) cost more than the checks.
    paused = gc.isenabled()
    gc.disable()
    try:
        return _run(root, json_out=json_out, strict=strict, use_cache=use_cache)
    finally:
        if paused:
            gc.enable()


def _run(root: Path, *, json_out: bool, strict: bool, use_cache: bool) -> int:
    started = time.perf_counter()
    # --strict compiles the rows, which needs every file parsed: the cache would save nothing.
    cache = open_cache(root) if use_cache and not strict else None
    result = validate_repository(root, cache=cache)
    if cache is not None:
        if result.specs.file_count:
            cache.save(Workspace(root).relative(cache.path))
        for warning in cache.warnings:
            output.warn(warning)
    _check_promotion(root, result)
    if strict and not result.errors:
        _check_lengths(result)
    errors, warnings = result.errors, result.warnings
    if strict:
        errors = errors + warnings
    if json_out:
        output.emit_json(
            {
                "valid": not errors,
                "files": result.specs.file_count,
                "diagnostics": [
                    {"path": d.path, "line": d.line, "col": d.col, "where": d.where,
                     "message": d.message, "severity": d.severity, "hint": d.hint}
                    for d in result.diagnostics
                ],
            }
        )
        return 1 if errors else 0
    output.diagnostics(result.diagnostics)
    files = len({d.path for d in errors})
    elapsed = time.perf_counter() - started
    if errors:
        output.error(
            f"{_n(len(errors), 'error')} in {_n(files, 'file')}"
            + (f", {_n(len(warnings), 'warning')}" if warnings and not strict else "")
        )
        return 1
    n_services = len(result.specs.services)
    summary = (
        f"mcptrain: {_n(result.specs.file_count, 'file')} valid ({_n(n_services, 'service')}, "
        f"{_n(result.tool_count, 'tool')}"
        + (f", {_n(len(warnings), 'warning')}" if warnings else "")
        + f") in {elapsed:.2f}s; next: mcptrain build"
    )
    output.info(summary)
    return 0


def open_cache(root: Path) -> ValidateCache:
    """`.mcptrain/cache/validate/summaries.json`: the summaries of unchanged example files."""
    ws = Workspace(root)
    path = ws.cache_dir("validate") / CACHE_FILE
    return ValidateCache.open(path, ws.relative(path))


def _check_promotion(root: Path, result: Any) -> None:
    """The model registry (like any spec) and whether CODEOWNERS still matches the owners."""
    from mcptrain.promotion.codeowners import check_codeowners
    from mcptrain.promotion.registry import REGISTRY_FILE, check_registry

    found = []
    if (root / REGISTRY_FILE).is_file():
        found += check_registry((root / REGISTRY_FILE).read_text(encoding="utf-8"))
    if not result.errors:
        found += check_codeowners(root, result.specs)
    if found:
        result.diagnostics.extend(found)
        result.diagnostics.sort(key=lambda d: (d.path, d.line, d.col))


def _check_lengths(result: Any) -> None:
    """--strict: rows longer than training.max_seq_len are warnings, so errors here."""
    from mcptrain.commands.lengths import diagnostics, measure
    from mcptrain.dataset.build import compile_rows

    report = measure(result.specs.project_spec, compile_rows(result.specs))
    result.diagnostics.extend(diagnostics(report, result))
    result.diagnostics.sort(key=lambda d: (d.path, d.line, d.col))


def _n(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"
