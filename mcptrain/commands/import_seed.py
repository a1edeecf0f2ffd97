"""`mcptrain import seed FILE...`: the seed's JSON documents become spec files.

All or nothing: every document is read and converted first, and if any has an
error nothing is written. Never overwrites: where a target exists the next free
`<name>.imported-<n>.yaml` is written instead, and the output says so.
"""

from __future__ import annotations

from pathlib import Path

from mcptrain import output
from mcptrain.errors import Diagnostic
from mcptrain.files import write_new_file
from mcptrain.importers.json_document import JsonDocument, read_json
from mcptrain.importers.seed import plan_import
from mcptrain.specs.loader import PROJECT_FILE, load_specs


def run(files: list[Path], root: Path) -> int:
    if not (root / PROJECT_FILE).is_file():
        output.error(f"{root / PROJECT_FILE} not found; run `mcptrain init {root}` first, or pass --root")
        return 1
    diags: list[Diagnostic] = []
    docs: list[JsonDocument] = []
    for path in files:
        doc = read_json(path, str(path), diags)
        if doc is not None:
            docs.append(doc)
    existing, _ = load_specs(root)  # the repository's own errors are `validate`'s business
    plan = plan_import(docs, existing)
    for doc in docs:
        if doc.path in plan.summaries:
            output.info(f"read {doc.path}: {plan.summaries[doc.path]}")
    diags += plan.diagnostics
    output.diagnostics(diags)
    errors = [d for d in diags if d.severity == "error"]
    if errors:
        n_files = len({d.path for d in errors})
        output.error(f"{_n(len(errors), 'error')} in {_n(n_files, 'file')}; nothing written")
        return 1
    folders: dict[str, None] = {}
    for planned in plan.files:
        try:
            written = write_unique(root, planned.rel, planned.text)
        except OSError as e:
            output.error(f"cannot write {planned.rel}: {e.strerror}")
            return 1
        folders[Path(planned.rel).parts[1]] = None
        if written == planned.rel:
            output.info(f"wrote {written} ({planned.summary})")
        else:
            output.info(f"wrote {written} ({planned.summary}; {planned.rel} exists and was kept)")
    if not plan.files:
        output.info("mcptrain: nothing new to import (everything is already in the specs)")
        return 0
    where = ", ".join(f"specs/{f}/" for f in folders)
    output.info(
        f"mcptrain: imported {_n(len(docs), 'document')} into {_n(len(plan.files), 'file')}; "
        f"next: review {where}, then run `mcptrain validate`"
    )
    return 0


def write_unique(root: Path, rel: str, text: str) -> str:
    """Write `rel` under `root`, or `<stem>.imported-<n><suffix>` if it exists; returns what was written."""
    candidate, n = Path(rel), 1
    while True:
        try:
            write_new_file(root / candidate, text)
            return candidate.as_posix()
        except FileExistsError:
            n += 1
            original = Path(rel)
            candidate = original.with_name(f"{original.stem}.imported-{n}{original.suffix}")


def _n(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"
