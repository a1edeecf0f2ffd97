"""`mcptrain import bfcl DATA_FILE [ANSWER_FILE]`: BFCL files become a service's specs."""

from __future__ import annotations

from pathlib import Path

from mcptrain import output


def run(data_file: Path, answer_file: Path | None, service: str | None, root: Path) -> int:
    from mcptrain.importers.bfcl import default_service, import_bfcl

    name = service or default_service(data_file)
    result = import_bfcl(data_file, answer_file, root / "specs" / name, name)
    for warning in result.warnings:
        output.warn(warning)
    for skipped in [*result.skipped, *result.contradictions]:
        output.warn(f"skipped {skipped}")
    for path in result.written:
        output.info(f"wrote {path}")
    left_out = len(result.skipped) + len(result.contradictions)
    output.info(f"mcptrain: imported {result.scenarios} scenarios offering {result.tools} distinct functions "
                f"into {root / 'specs' / name}" + (f" ({left_out} items skipped, listed above)" if left_out else "")
                + "; next: mcptrain validate, then mcptrain build")
    return 0
