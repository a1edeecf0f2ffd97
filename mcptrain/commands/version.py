"""`mcptrain version`: the next semantic version of the model, and every reason for it."""

from __future__ import annotations

from pathlib import Path

from mcptrain import output
from mcptrain.errors import SpecError


def run(root: Path, *, json_out: bool = False) -> int:
    from mcptrain.promotion.promote import production_surface
    from mcptrain.promotion.registry import read_registry
    from mcptrain.promotion.semver import next_version
    from mcptrain.promotion.surface import capture_surface
    from mcptrain.workspace import Workspace

    ws = Workspace(root)
    specs, diags = ws.load_specs()
    errors = [d for d in diags if d.severity == "error"]
    if errors:
        raise SpecError(errors)
    model = specs.project_spec.name
    live = read_registry(root).production(model)
    before = production_surface(root, model, live.version) if live else None
    bump = next_version(live.version if live else None, before, capture_surface(specs))
    if json_out:
        output.emit_json({"model": model, "production": live.version if live else None, **bump.as_dict()})
        return 0
    if bump.level is None:
        output.info(f"mcptrain: {model}: no change since production v{bump.version}")
        return 0
    over = f"{bump.level} over production v{live.version}" if live else "the first version"
    output.info(f"mcptrain: {model}: next version {bump.version} ({over})")
    for r in bump.reasons:
        output.info(f"  {r.level}: {r.text}")
    return 0
