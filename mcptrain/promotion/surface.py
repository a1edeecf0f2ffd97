"""A model version's surface: what the semantic version and the data diff compare.

For every service its tools (name, description, `inputSchema`), the ids of its examples,
edge cases and scenarios, and a fingerprint of each kind of content; beside them the base
model, the backend and the training settings. Promotion commits one surface per version
(`models/<model>/surfaces/v<version>.json`), so the next candidate is compared with the
production version's surface exactly, not with a fingerprint that can only say "changed".
"""

from __future__ import annotations

from typing import Any

from mcptrain.fingerprint import sha256_json
from mcptrain.specs.loader import Specs

SURFACE_FORMAT = 1


def capture_surface(specs: Specs) -> dict[str, Any]:
    """The surface of the specs as loaded (`Specs`), JSON-able and canonical (sorted)."""
    project = specs.project_spec
    services: dict[str, Any] = {}
    for name, bundle in sorted(specs.services.items()):
        tools = {t.name: {"description": t.description, "inputSchema": t.inputSchema}
                 for ts in bundle.toolsets for t in ts.spec.tools}
        examples = [e.spec.model_dump(mode="json", exclude_none=True) for e in bundle.examples]
        edge = [e.spec.model_dump(mode="json", exclude_none=True) for e in bundle.edge_cases]
        vocabulary = [v.spec.model_dump(mode="json", exclude_none=True) for v in bundle.vocabularies]
        tests = [t.spec.model_dump(mode="json", exclude_none=True) for t in bundle.tests]
        service = bundle.service.spec if bundle.service is not None else None
        services[name] = {
            "owners": list(service.owners) if service else [],
            "tools": dict(sorted(tools.items())),
            "ids": {
                "examples": sorted(x.id for e in bundle.examples for x in e.spec.examples),
                "edge_cases": sorted(x.id for e in bundle.edge_cases for x in e.spec.edge_cases),
                "scenarios": sorted(x.id for t in bundle.tests for x in t.spec.scenarios),
            },
            "content": {"examples": sha256_json(examples), "edge_cases": sha256_json(edge),
                        "vocabulary": sha256_json(vocabulary), "scenarios": sha256_json(tests),
                        "service": sha256_json(service.model_dump(mode="json") if service else None)},
        }
    return {"format": SURFACE_FORMAT, "base_model": project.base_model, "backend": project.backend,
            "training": project.training.model_dump(mode="json"), "services": services}


def tool_fingerprints(surface: dict[str, Any]) -> dict[str, str]:
    """`service/tool` -> sha256 of the tool's schema and description (the registry keeps these)."""
    return {f"{svc}/{tool}": sha256_json(body) for svc, s in sorted(surface["services"].items())
            for tool, body in s["tools"].items()}


def data_diff(before: dict[str, Any] | None, after: dict[str, Any]) -> dict[str, dict[str, list[str]]]:
    """Per service and kind (examples, edge_cases, scenarios): the ids added and removed."""
    out: dict[str, dict[str, list[str]]] = {}
    old_services = (before or {}).get("services", {})
    for name in sorted(set(old_services) | set(after["services"])):
        old = old_services.get(name, {}).get("ids", {})
        new = after["services"].get(name, {}).get("ids", {})
        for kind in ("examples", "edge_cases", "scenarios"):
            added = sorted(set(new.get(kind, [])) - set(old.get(kind, [])))
            removed = sorted(set(old.get(kind, [])) - set(new.get(kind, [])))
            if added or removed:
                out.setdefault(name, {})[f"{kind} added"] = added
                out.setdefault(name, {})[f"{kind} removed"] = removed
    return out
