from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mcptrain.dataset import build as dataset
from mcptrain.dataset.build import build_dataset, content_hash, recover_interrupted
from mcptrain.dataset.build_cache import CACHE_DIR
from mcptrain.errors import ConfigError, SpecError
from tests.builders import write_project, write_service
from tests.conftest import PROJECTS


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_the_files_a_build_writes(good_project: Path) -> None:
    build_dataset(good_project)
    names = sorted(snapshot(good_project / "datasets"))
    splits = ["holdout", "orchestration", "scenarios", "test", "train", "validation", "zero_shot"]
    assert names == sorted(["manifest.json", *(f"{s}.jsonl" for s in splits), *(f"hf/{s}.jsonl" for s in splits),
                            *(f"openai/{s}.jsonl" for s in splits)])
    assert [p.name for p in good_project.iterdir() if p.name.startswith("datasets.")] == []


def test_same_specs_same_bytes(good_project: Path, tmp_path: Path) -> None:
    first = build_dataset(good_project)
    files = snapshot(good_project / "datasets")
    shutil.rmtree(good_project / ".mcptrain")  # cold again
    second = build_dataset(good_project)
    assert snapshot(good_project / "datasets") == files
    assert second.manifest["content_hash"] == first.manifest["content_hash"]
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(PROJECTS / "good", elsewhere)
    build_dataset(elsewhere)
    assert snapshot(elsewhere / "datasets") == files


def test_the_manifest_describes_the_files(good_project: Path) -> None:
    report = build_dataset(good_project)
    datasets = good_project / "datasets"
    manifest = json.loads((datasets / "manifest.json").read_text())
    assert manifest == report.manifest
    for name, info in manifest["files"].items():
        data = (datasets / name).read_bytes()
        assert info == {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data), "rows": data.count(b"\n")}
    assert manifest["content_hash"] == content_hash(manifest["files"])
    assert sorted(manifest) == ["contamination", "content_hash", "counts", "files", "format", "openai_checks",
                                "project", "quality", "resampled_rows", "seed", "service_fingerprints", "sources", "spec_fingerprint",
                                "splits_config", "zero_shot_tools", "zero_shot_withheld_rows"]
    # Its two edge cases expect different behaviours, so each is alone in its stratum: both train.
    assert manifest["counts"]["splits"] == {"train": 18, "validation": 0, "test": 0, "holdout": 0,
                                            "zero_shot": 0, "orchestration": 0, "scenarios": 1}
    assert manifest["zero_shot_tools"] == {"payment-service": []}  # a critical service holds none out
    assert manifest["seed"] == 42


def test_unchanged_services_come_from_the_cache(tmp_path: Path) -> None:
    write_project(tmp_path)
    write_service(tmp_path, "alpha", tools=2, examples_per_tool=3)
    write_service(tmp_path, "beta", tools=2, examples_per_tool=3)
    first = build_dataset(tmp_path)
    assert (first.compiled, first.reused) == (["alpha", "beta"], [])
    second = build_dataset(tmp_path)
    assert (second.compiled, second.reused) == ([], ["alpha", "beta"])
    assert second.manifest == first.manifest
    write_service(tmp_path, "beta", tools=2, examples_per_tool=4)
    third = build_dataset(tmp_path)
    assert (third.compiled, third.reused) == (["beta"], ["alpha"])
    assert sorted(p.name.split("-")[0] for p in (tmp_path / CACHE_DIR).iterdir()) == ["alpha", "beta"]
    write_project(tmp_path, system_prompt="Another prompt.")
    assert build_dataset(tmp_path).compiled == ["alpha", "beta"]


def test_a_damaged_cache_entry_is_compiled_again(good_project: Path) -> None:
    first = build_dataset(good_project)
    (entry,) = (good_project / CACHE_DIR).iterdir()
    entry.write_text("{not json")
    second = build_dataset(good_project)
    assert second.compiled == ["payment-service"]
    assert second.manifest["content_hash"] == first.manifest["content_hash"]


def test_invalid_specs_build_nothing(good_project: Path) -> None:
    build_dataset(good_project)
    before = snapshot(good_project / "datasets")
    shutil.copytree(PROJECTS / "broken_calls" / "specs", good_project / "specs", dirs_exist_ok=True)
    with pytest.raises(SpecError) as e:
        build_dataset(good_project)
    assert e.value.diagnostics and all(d.severity == "error" for d in e.value.diagnostics)
    assert snapshot(good_project / "datasets") == before


def test_a_crash_mid_write_leaves_the_previous_dataset(good_project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    build_dataset(good_project)
    before = snapshot(good_project / "datasets")
    (good_project / "specs" / "payment" / "examples" / "charges.yaml").write_text(
        (PROJECTS / "good" / "specs" / "payment" / "examples" / "charges.yaml").read_text().replace(
            "Charge customer $50", "Charge the customer $50"))
    written = []

    def crash(self: object, line: str) -> None:
        written.append(line)
        if len(written) == 20:
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(dataset._Writer, "write", crash)
    with pytest.raises(OSError, match="No space left on device"):
        build_dataset(good_project)
    assert snapshot(good_project / "datasets") == before
    assert [p.name for p in good_project.iterdir() if p.name.startswith("datasets.")] == []


def test_a_crash_during_the_swap_is_undone_by_the_next_build(good_project: Path) -> None:
    build_dataset(good_project)
    before = snapshot(good_project / "datasets")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True).stdout.strip()
    # killed between "rename datasets aside" and "rename the new one in"
    os.rename(good_project / "datasets", good_project / f"datasets.old-{dead}")
    (good_project / f"datasets.tmp-{dead}").mkdir()
    recover_interrupted(good_project)
    assert snapshot(good_project / "datasets") == before
    assert [p.name for p in good_project.iterdir() if p.name.startswith("datasets.")] == []


def test_a_directory_without_specs_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"holds no specs \(no mcptrain.yaml, specs/ or policies/\); "
                                          r"run `mcptrain init` there first$"):
        build_dataset(tmp_path / "nowhere")
    assert not (tmp_path / "nowhere").exists()
