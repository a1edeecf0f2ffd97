"""`mcptrain registry show` / `mcptrain registry history`: the model registry, read."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mcptrain import output


def show(root: Path, *, json_out: bool = False) -> int:
    """Every model: its production version and its open candidate."""
    from mcptrain.promotion.registry import read_registry

    registry = read_registry(root)
    rows = []
    data = {}
    for model, versions in registry.spec.models.items():
        live = registry.production(model)
        latest = versions[-1] if versions else None
        data[model] = {"production": live.version if live else None,
                       "latest": latest.model_dump(mode="json") if latest else None}
        rows.append((model, f"v{live.version}" if live else "-",
                     f"{live.metrics.overall.accuracy:.1%}" if live else "-",
                     f"v{latest.version} ({latest.status})" if latest and latest is not live else "-",
                     latest.gate.decision if latest and latest is not live else "-"))
    if json_out:
        output.emit_json(data)
        return 0
    if not rows:
        output.info("mcptrain: the registry is empty; mcptrain reconcile promotes the first version")
        return 0
    output.table("models", ["model", "production", "accuracy", "latest", "verdict"], rows)
    return 0


def history(root: Path, *, json_out: bool = False) -> int:
    """Every version, oldest first: status, verdict, accuracy, bump and its release tags."""
    from mcptrain import git
    from mcptrain.promotion.registry import history as versions
    from mcptrain.promotion.registry import read_registry

    registry = read_registry(root)
    tagged = git.is_repository(root)
    items: list[dict[str, Any]] = []
    for model, v in versions(registry):
        tags = git.tags(root, f"{model}@v{v.version}") if tagged else []
        items.append({"model": model, "version": v.version, "status": v.status, "created_at": v.created_at,
                      "released_at": v.released_at, "verdict": v.gate.decision,
                      "accuracy": v.metrics.overall.accuracy, "bump": v.bump.level,
                      "reasons": v.bump.reasons, "tags": tags})
    if json_out:
        output.emit_json(items)
        return 0
    if not items:
        output.info("mcptrain: the registry is empty")
        return 0
    output.table("history", ["model", "version", "status", "verdict", "accuracy", "bump", "created", "released"],
                 [(i["model"], f"v{i['version']}", i["status"], i["verdict"], f"{i['accuracy']:.1%}",
                   i["bump"], i["created_at"][:10], (i["released_at"] or "-")[:10]) for i in items])
    return 0
