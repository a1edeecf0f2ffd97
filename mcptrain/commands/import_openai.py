"""`mcptrain import openai FILE --service NAME`: an OpenAI fine-tuning JSONL (with `tools`)
into spec files, for teams migrating their data; all or nothing, never overwriting."""

from __future__ import annotations

from pathlib import Path

from mcptrain import output
from mcptrain.errors import Diagnostic


def run(file: Path, service: str, root: Path) -> int:
    from mcptrain.commands.import_seed import write_unique
    from mcptrain.importers.openai_ft import read_openai_jsonl, relocate
    from mcptrain.importers.seed import plan_import
    from mcptrain.specs.loader import PROJECT_FILE, load_specs

    if not (root / PROJECT_FILE).is_file():
        output.error(f"{root / PROJECT_FILE} not found; run `mcptrain init {root}` first, or pass --root")
        return 1
    diags: list[Diagnostic] = []
    try:
        doc, lines = read_openai_jsonl(file, service, diags)
    except OSError as e:
        output.error(f"cannot read {file}: {e.strerror}")
        return 1
    plan = plan_import([doc] if doc else [], load_specs(root)[0])
    diags = relocate(diags + plan.diagnostics, str(file), lines)
    output.diagnostics(diags)
    errors = [d for d in diags if d.severity == "error"]
    if errors or doc is None:
        output.error(f"{len(errors)} error{'' if len(errors) == 1 else 's'} in {file}; nothing written")
        return 1
    for planned in plan.files:
        written = write_unique(root, planned.rel, planned.text)
        kept = "" if written == planned.rel else f"; {planned.rel} exists and was kept"
        output.info(f"wrote {written} ({planned.summary}{kept})")
    if not plan.files:
        output.info("mcptrain: nothing new to import (everything is already in the specs)")
        return 0
    output.info(f"mcptrain: imported {len(lines)} rows of {file}; next: review the files, then `mcptrain validate`")
    return 0
