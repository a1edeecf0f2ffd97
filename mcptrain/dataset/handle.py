"""The built dataset as the stages after `build` read it: its manifest and its split files."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mcptrain.errors import StageError
from mcptrain.fingerprint import sha256_json
from mcptrain.workspace import DATASET_DIR

TRAINING_FILES = ("train.jsonl", "validation.jsonl")


@dataclass(frozen=True)
class Dataset:
    root: Path
    manifest: dict[str, Any]

    @property
    def content_hash(self) -> str:
        return str(self.manifest["content_hash"])

    @property
    def training_hash(self) -> str:
        """The hash of what training reads: the train and validation splits, in every form.
        A scored split (a new test scenario, say) changes the dataset, not this: the stages
        re-evaluate without retraining, as a plan keyed by exact inputs should."""
        files = self.manifest["files"]
        read = {name: files[name]["sha256"] for name in sorted(files)
                if Path(name).name in TRAINING_FILES}
        return sha256_json(read)

    def path(self, split: str, form: str = "") -> Path:
        return self.root / DATASET_DIR / form / f"{split}.jsonl"

    def rows(self, split: str) -> list[dict[str, Any]]:
        path = self.path(split)
        rows = []
        with path.open(encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                try:
                    rows.append(json.loads(line))
                except ValueError as e:
                    raise StageError(f"{path}:{lineno}: not a JSON line ({e}); rebuild with `mcptrain build`") from None
        return rows


def open_dataset(root: Path) -> Dataset:
    path = root / DATASET_DIR / "manifest.json"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StageError(f"{path} does not exist: the dataset has not been built",
                         hint="run `mcptrain build` (or `mcptrain data pull`) first") from None
    except (OSError, ValueError) as e:
        raise StageError(f"{path}: cannot be read ({e})", hint="run `mcptrain build` again") from None
    if not isinstance(manifest, dict) or "content_hash" not in manifest:
        raise StageError(f"{path}: not an mcptrain manifest", hint="run `mcptrain build` again")
    return Dataset(root, manifest)


def select_rows(dataset: Dataset, splits: Sequence[str], limit: int | None = None) -> list[dict[str, Any]]:
    """Rows of `splits`; with `limit`, an even sample of at most `limit` rows per split."""
    rows: list[dict[str, Any]] = []
    for split in splits:
        part = dataset.rows(split)
        if limit is not None and len(part) > limit:
            step = len(part) / limit
            part = [part[int(i * step)] for i in range(limit)]
        rows += part
    return rows
