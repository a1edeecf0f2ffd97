"""`mcptrain codeowners`: write `.github/CODEOWNERS`'s mcptrain block from the specs."""

from __future__ import annotations

from pathlib import Path

from mcptrain import output
from mcptrain.errors import SpecError


def run(root: Path, *, check: bool = False) -> int:
    from mcptrain.files import replace_file
    from mcptrain.promotion.codeowners import CODEOWNERS, codeowners_block, updated_codeowners
    from mcptrain.workspace import Workspace

    specs, diags = Workspace(root).load_specs()
    errors = [d for d in diags if d.severity == "error"]
    if errors:
        raise SpecError(errors)
    path = root / CODEOWNERS
    current = path.read_text(encoding="utf-8") if path.is_file() else None
    wanted = updated_codeowners(current, codeowners_block(specs))
    if wanted == current:
        output.info(f"mcptrain: {CODEOWNERS} is up to date")
        return 0
    if check:
        output.error(f"{CODEOWNERS} is out of date with the specs; run mcptrain codeowners")
        return 1
    replace_file(path, wanted)
    output.info(f"mcptrain: wrote {CODEOWNERS}; next: git add {CODEOWNERS} && git commit")
    return 0
