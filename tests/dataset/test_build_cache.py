from __future__ import annotations

from pathlib import Path

from mcptrain.dataset.build_cache import CACHE_DIR, load_cached, service_fingerprint, store
from mcptrain.dataset.compiler import CompiledService
from mcptrain.specs.loader import load_specs
from tests.builders import write_project, write_service


def fingerprints(root: Path, settings: dict | None = None) -> dict[str, str]:
    specs, _ = load_specs(root)
    return {n: service_fingerprint(root, b, settings or {}) for n, b in specs.services.items()}


def test_a_fingerprint_covers_the_service_files_and_settings_only(tmp_path: Path) -> None:
    write_project(tmp_path)
    write_service(tmp_path, "alpha", tools=2, examples_per_tool=2)
    write_service(tmp_path, "beta", tools=2, examples_per_tool=2)
    first = fingerprints(tmp_path)
    assert fingerprints(tmp_path) == first
    write_service(tmp_path, "beta", tools=2, examples_per_tool=3)
    second = fingerprints(tmp_path)
    assert second["alpha"] == first["alpha"] and second["beta"] != first["beta"]
    assert fingerprints(tmp_path, {"system_prompt": "x"})["alpha"] != first["alpha"]


def test_store_load_and_drop_stale_entries(tmp_path: Path) -> None:
    compiled = CompiledService("alpha", [{"type": "function"}], [{"id": "a-1"}])
    store(tmp_path, compiled, "0" * 64)
    store(tmp_path, CompiledService("alpha-2", [], []), "2" * 64)
    assert load_cached(tmp_path, "alpha", "0" * 64) == compiled
    store(tmp_path, compiled, "1" * 64)
    assert sorted(p.name for p in (tmp_path / CACHE_DIR).iterdir()) == [f"alpha-{'1' * 64}.json",
                                                                        f"alpha-2-{'2' * 64}.json"]
    assert load_cached(tmp_path, "alpha", "0" * 64) is None
    (tmp_path / CACHE_DIR / f"alpha-{'1' * 64}.json").write_text('{"fingerprint": "other"}')
    assert load_cached(tmp_path, "alpha", "1" * 64) is None
