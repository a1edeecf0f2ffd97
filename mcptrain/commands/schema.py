"""`mcptrain schema`: the JSON Schema of every spec kind and of the model registry, for editors.

The files are generated from the pydantic models (field descriptions included), so
replacing them is fine; spec files point at them with a yaml-language-server
modeline such as `# yaml-language-server: $schema=../../schemas/Service.json`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mcptrain import output
from mcptrain.files import replace_file
from mcptrain.specs.models import KINDS, ModelRegistrySpec

DIALECT = "https://json-schema.org/draft/2020-12/schema"
# The spec kinds, and models/registry.yaml (written by promote and release, edited by people too).
DOCUMENTS: dict[str, type[Any]] = {**KINDS, "ModelRegistry": ModelRegistrySpec}


def kind_schema(kind: str) -> dict[str, Any]:
    """The JSON Schema of one kind, as yaml-language-server and jsonschema read it."""
    schema = DOCUMENTS[kind].model_json_schema(by_alias=True)
    return {"$schema": DIALECT, "title": f"mcptrain {kind}", **{k: v for k, v in schema.items() if k != "title"}}


def write_schemas(out: Path) -> list[Path]:
    """Write `<Kind>.json` for every kind (and ModelRegistry.json) into `out`; the paths written."""
    written = []
    for kind in DOCUMENTS:
        path = out / f"{kind}.json"
        replace_file(path, json.dumps(kind_schema(kind), indent=2, sort_keys=False) + "\n")
        written.append(path)
    return written


def run(out: Path) -> int:
    if out.exists() and not out.is_dir():
        output.error(f"{out} exists and is not a directory")
        return 1
    written = write_schemas(out)
    output.info(f"wrote {len(written)} JSON Schemas to {out}/ ({', '.join(p.name for p in written)})")
    output.info(
        "next: start each spec file with a modeline such as "
        f"'# yaml-language-server: $schema={out.as_posix()}/Service.json' (relative to the file)"
    )
    return 0
