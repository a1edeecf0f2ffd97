"""`mcptrain import bfcl DATA_FILE [ANSWER_FILE]`: BFCL files become a service's specs."""

from __future__ import annotations

from pathlib import Path

from mcptrain import output


def run(data_file: Path, answer_file: Path | None, service: str | None, root: Path) -> int:
    from mcptrain.importers.bfcl import import_bfcl

    name = service or "bfcl-" + data_file.name.split(".")[0].lower().replace("_", "-")
    result = import_bfcl(data_file, answer_file, root / "specs" / name, name)
    for warning in result.warnings:
        output.warn(warning)
    for skipped in result.skipped:
        output.warn(f"skipped {skipped}")
    for path in result.written:
        output.info(f"wrote {path}")
    output.info(f"mcptrain: imported {result.scenarios} scenarios and {result.tools} tools into "
                f"{root / 'specs' / name}; next: mcptrain validate, then mcptrain build")
    return 0
