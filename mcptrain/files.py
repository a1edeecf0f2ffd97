"""Writing files safely: the only place mcptrain creates or replaces a file's content.

* `write_new_file` creates a file a person will own: atomically, and never over an
  existing one (the link fails if the name appeared meanwhile).
* `replace_file` / `write_json` replace a file mcptrain owns: temp file + rename, so an
  interrupt leaves either the old content or the new, never half of one.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

MODE = 0o644  # mkstemp creates 0600; spec files and artifacts are meant to be shared


def _temp_with(path: Path, data: str | bytes) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
        os.chmod(tmp, MODE & ~_umask())
    except BaseException:
        os.unlink(tmp)
        raise
    return tmp


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def write_new_file(path: Path, data: str | bytes) -> None:
    """Create `path` atomically; FileExistsError if it exists (never overwrite a person's file)."""
    tmp = _temp_with(path, data)
    try:
        os.link(tmp, path)
    finally:
        os.unlink(tmp)


def replace_file(path: Path, data: str | bytes) -> None:
    """Write `path` atomically (temp file + rename), for files mcptrain owns."""
    tmp = _temp_with(path, data)
    try:
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def write_json(path: Path, data: Any) -> None:
    replace_file(path, json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
