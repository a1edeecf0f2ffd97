from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mcptrain.dataset import store as dataset_store
from mcptrain.dataset.build import build_dataset
from mcptrain.dataset.store import (
    _remote_url,
    dataset_status,
    pointer_md5,
    pull_dataset,
    track_dataset,
)
from mcptrain.errors import ConfigError, StageError
from mcptrain.specs.models import DvcSpec
from tests.conftest import PROJECTS


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def git_repo(path: Path) -> Path:
    shutil.copytree(PROJECTS / "good", path)
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    return path


def test_remote_urls() -> None:
    root = Path("/repo")
    assert _remote_url(root, ".mcptrain/dvc-remote") == "/repo/.mcptrain/dvc-remote"
    assert _remote_url(root, "/srv/remote") == "/srv/remote"
    assert _remote_url(root, "s3://bucket/datasets") == "s3://bucket/datasets"


def test_pointer_md5(tmp_path: Path) -> None:
    assert pointer_md5(tmp_path) is None
    (tmp_path / "datasets.dvc").write_text("outs:\n- md5: abc.dir\n  size: 3\n  path: datasets\n")
    assert pointer_md5(tmp_path) == "abc.dir"
    (tmp_path / "datasets.dvc").write_text("outs: [{md5: x, path: other}]\n")
    assert pointer_md5(tmp_path) is None


def test_without_dvc_installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "executable", str(tmp_path / "bin" / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ConfigError, match=r"^DVC is not installed; install mcptrain\[data\]"):
        dataset_store._dvc(tmp_path, "--version")


def test_status_outside_a_dvc_repository(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is not a DVC repository yet; run `mcptrain build` first"):
        dataset_status(tmp_path, DvcSpec())


@pytest.mark.slow
def test_build_push_status_pull(tmp_path: Path) -> None:
    root = git_repo(tmp_path / "repo")
    remote = tmp_path / "remote"
    config = DvcSpec.model_validate({"remote": {"name": "storage", "url": str(remote)}})
    build_dataset(root)
    tracked = track_dataset(root, config, push=True)
    assert (tracked.initialised, tracked.pushed, tracked.remote) == (True, True, "storage")
    assert tracked.md5.endswith(".dir") and tracked.md5 == pointer_md5(root)
    assert "nfiles: 22\n" in (root / "datasets.dvc").read_text()
    assert any(remote.rglob("*")), "the remote holds the pushed files"
    status = dataset_status(root, config)
    assert (status.tracked, status.workspace, status.remote) == (True, "clean", "in sync")

    files = snapshot(root / "datasets")
    shutil.rmtree(root / "datasets")  # (`missing` is checked in tests/commands/test_build.py)
    assert pull_dataset(root, config) == tracked.md5
    assert snapshot(root / "datasets") == files

    (root / "specs" / "payment" / "tools.yaml").write_text(
        (root / "specs" / "payment" / "tools.yaml").read_text().replace("Find a customer.", "Find a customer by name."))
    build_dataset(root)
    assert dataset_status(root, config).workspace == "modified"
    again = track_dataset(root, config)  # a second run: no init, remote already there
    assert (again.initialised, again.pushed) == (False, False)
    assert again.md5 != tracked.md5
    assert dataset_status(root, config).remote == "not pushed"


@pytest.mark.slow
def test_outside_git_and_dvc_errors_are_passed_on(tmp_path: Path) -> None:
    root = tmp_path / "plain"
    shutil.copytree(PROJECTS / "good", root)
    build_dataset(root)
    config = DvcSpec.model_validate({"remote": {"url": "ssh://backup.example.invalid/datasets"}})
    with pytest.raises(StageError) as e:
        track_dataset(root, config, push=True)
    assert str(e.value) == ("dvc push failed: ERROR: unexpected error - ssh is supported, but requires "
                            "'dvc-ssh' to be installed: No module named 'dvc_ssh'")
    assert "dvc-ssh" in str(e.value)
    assert "no_scm = True" in (root / ".dvc" / "config").read_text()
    assert pointer_md5(root) is not None  # added before the push failed
