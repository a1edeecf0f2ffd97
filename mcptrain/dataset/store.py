"""The only module that runs DVC: `datasets/` tracked by `datasets.dvc`, pushed to a remote.

DVC runs as its own CLI (the `dvc` next to this Python), quiet and without analytics;
when it fails its own message is passed on in a StageError. The remote comes from
`dvc.remote` in mcptrain.yaml: a local directory by default, any URL DVC knows
(s3://, gs://, azure://, ssh://, ...) by configuration.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mcptrain.errors import ConfigError, StageError
from mcptrain.specs import models as s
from mcptrain.workspace import DATASET_DIR

POINTER = "datasets.dvc"


@dataclass(frozen=True)
class Tracked:
    md5: str  # DVC's directory hash, as recorded in datasets.dvc
    initialised: bool  # `dvc init` ran in this call
    remote: str
    pushed: bool


@dataclass(frozen=True)
class DataStatus:
    tracked: bool  # datasets.dvc exists
    md5: str | None
    workspace: str  # "clean" | "modified" | "missing" | "untracked"
    remote: str  # "in sync" | "not pushed" | "unknown"
    remote_name: str
    details: dict[str, Any]


def track_dataset(root: Path, config: s.DvcSpec, *, push: bool = False) -> Tracked:
    """`dvc init` if needed, configure the remote, `dvc add datasets`, and maybe push."""
    initialised = ensure_repo(root)
    if initialised:  # a new repository has no remotes: skip reading its config
        _dvc(root, "remote", "add", "-d", config.remote.name, config.remote.url)
    else:
        ensure_remote(root, config.remote)
    _dvc(root, "add", DATASET_DIR)
    if push:
        _dvc(root, "push", "-r", config.remote.name, POINTER)
    return Tracked(pointer_md5(root) or "", initialised, config.remote.name, push)


def ensure_repo(root: Path) -> bool:
    if (root / ".dvc").is_dir():
        return False
    top = _git_top(root)
    if top is None:
        _dvc(root, "init", "--no-scm")
    elif top == root.resolve():
        _dvc(root, "init")
    else:
        _dvc(root, "init", "--subdir")
    return True


def ensure_remote(root: Path, remote: s.DvcRemoteSpec) -> None:
    """Make `remote` exist with the configured URL, and the default if none is."""
    settings = dict(line.split("=", 1) for line in _dvc(root, "config", "--list").splitlines() if "=" in line)
    current = settings.get(f"remote.{remote.name}.url")
    # Given as written (relative to the root, the cwd), DVC stores a local path relative
    # to .dvc/ so that the committed config works in every clone.
    if current is None:
        _dvc(root, "remote", "add", remote.name, remote.url)
    elif _remote_url(root, current) != _remote_url(root, remote.url):
        _dvc(root, "remote", "modify", remote.name, "url", remote.url)
    if not settings.get("core.remote"):
        _dvc(root, "remote", "default", remote.name)


def dataset_status(root: Path, config: s.DvcSpec) -> DataStatus:
    if not (root / ".dvc").is_dir():
        raise ConfigError(f"{root} is not a DVC repository yet; run `mcptrain build` first")
    md5 = pointer_md5(root)
    if md5 is None:
        return DataStatus(False, None, "untracked", "unknown", config.remote.name, {})
    local = json.loads(_dvc(root, "status", "--json", POINTER) or "{}")
    if not (root / DATASET_DIR).exists():
        workspace = "missing"
    else:
        workspace = "clean" if not local else "modified"
    cloud = json.loads(_dvc(root, "status", "--cloud", "--json", "-r", config.remote.name, POINTER) or "{}")
    remote = "in sync" if not cloud else "not pushed"
    return DataStatus(True, md5, workspace, remote, config.remote.name, {"workspace": local, "remote": cloud})


def pull_dataset(root: Path, config: s.DvcSpec) -> str:
    """Fetch the dataset `datasets.dvc` names from the remote into `datasets/`."""
    md5 = pointer_md5(root)
    if md5 is None:
        raise ConfigError(f"no {POINTER} in {root}; run `mcptrain build` (and commit {POINTER}) first")
    _dvc(root, "pull", "-r", config.remote.name, POINTER)
    return md5


def pointer_md5(root: Path) -> str | None:
    """The `md5` of the `datasets` output in datasets.dvc (a small YAML file DVC writes)."""
    from mcptrain.specs.yaml import YAMLError, load_document

    try:
        data = load_document(root / POINTER).data
    except (OSError, YAMLError):
        return None
    outs = data.get("outs") if isinstance(data, dict) else None
    for out in outs if isinstance(outs, list) else []:
        if isinstance(out, dict) and out.get("path") == DATASET_DIR:
            return str(out.get("md5"))
    return None


def _remote_url(root: Path, url: str) -> str:
    """A local path made absolute (relative ones are relative to the repository root)."""
    if "://" in url:
        return url
    path = Path(url).expanduser()
    return str(path if path.is_absolute() else (root / path).resolve())


def _git_top(root: Path) -> Path | None:
    for folder in (root.resolve(), *root.resolve().parents):
        if (folder / ".git").exists():
            return folder
    return None


def _dvc(root: Path, *args: str) -> str:
    exe = Path(sys.executable).parent / "dvc"
    command = [str(exe) if exe.exists() else "dvc", *args]
    env = {**os.environ, "DVC_NO_ANALYTICS": "1", "DVC_IGNORE_ISATTY": "true"}
    try:
        proc = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=3600)
    except FileNotFoundError:
        raise ConfigError("DVC is not installed; install mcptrain[data] or set `dvc.enabled: false` "
                          "in mcptrain.yaml (or pass --no-dvc)") from None
    if proc.returncode != 0:
        # DVC's own words, without its support footer (-q would drop the words and keep the footer)
        lines = [line.strip() for line in (proc.stderr + "\n" + proc.stdout).splitlines()
                 if line.strip() and not line.startswith("Having any troubles?")]
        said = [line for line in lines if line.startswith("ERROR")] or lines
        raise StageError(f"dvc {args[0]} failed: {' '.join(said) or f'exit code {proc.returncode}'}")
    return proc.stdout
