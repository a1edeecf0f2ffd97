"""The built dataset as the stages after `build` read it: its manifest and its split files."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from mcptrain.errors import StageError
from mcptrain.fingerprint import sha256_json
from mcptrain.workspace import DATASET_DIR

TRAINING_FILES = ("train.jsonl", "validation.jsonl")
# Row fields only the decoder reads (docs/rows.md): an edit to them re-evaluates, never retrains.
DECODING_ONLY = frozenset({"canonical_values"})


def training_view(row: dict[str, Any]) -> dict[str, Any]:
    """`row` as training sees it: without the fields only decoding reads."""
    return {k: v for k, v in row.items() if k not in DECODING_ONLY}


@dataclass(frozen=True)
class Dataset:
    root: Path
    manifest: dict[str, Any]

    @property
    def content_hash(self) -> str:
        return str(self.manifest["content_hash"])

    @cached_property
    def training_hash(self) -> str:
        """The hash of what training reads: the train and validation splits, in every form,
        the canonical rows without the fields only decoding reads (`DECODING_ONLY`). A
        scored split (a new test scenario, say) or a vocabulary's synonyms change the
        dataset, not this: the stages re-evaluate without retraining, as a plan keyed by
        exact inputs should."""
        files = self.manifest["files"]
        read: dict[str, Any] = {name: files[name]["sha256"] for name in sorted(files)
                                if Path(name).name in TRAINING_FILES and Path(name).parent != Path(".")}
        for name in TRAINING_FILES:
            if name in files:
                read[name] = sha256_json([training_view(row) for row in self.rows(Path(name).stem)])
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
