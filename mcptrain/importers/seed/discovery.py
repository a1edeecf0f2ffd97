"""The `/.well-known/mcp-training-data.json` discovery document: `service`, `version`,
`owners`, `endpoints`.

Its service fields may stand in any seed document (`service`, or `metadata.service`),
so `read_service` reads them from every one; the discovery document is read first
because it names the owners best. Its endpoints are not fetched: the summary says so.
"""

from __future__ import annotations

from typing import Any

from mcptrain.importers.json_document import JsonDocument
from mcptrain.importers.seed import shapes
from mcptrain.importers.seed.conversion import ID, Conversion
from mcptrain.importers.seed.shapes import SeedItemError
from mcptrain.locations import Loc


class DiscoveryDocument:
    name = "discovery document"
    read_first = True

    def recognises(self, data: dict[str, Any]) -> bool:
        return "endpoints" in data or "service" in data

    def summarise(self, data: dict[str, Any], parts: list[str]) -> list[str]:
        service = data.get("service")
        name = service.get("name") if isinstance(service, dict) else service
        parts = [f"{name} {data.get('version', '')}".strip(), *parts]
        endpoints = data.get("endpoints")
        if isinstance(endpoints, dict) and endpoints:
            parts.append(f"endpoints not fetched: {', '.join(map(str, endpoints))}; download and import them too")
        return parts


def read_service(conv: Conversion, doc: JsonDocument) -> str | None:
    """The service a document names (its draft gets the version, owners, ...), or None."""
    data = doc.data
    meta: dict[str, Any] = data["metadata"] if isinstance(data.get("metadata"), dict) else {}
    where: Loc = ("service",) if "service" in data else ("metadata", "service")
    raw = data.get("service", meta.get("service"))
    if raw is None and "endpoints" in data and isinstance(data.get("name"), str):
        where, raw = ("name",), data["name"]
    info: dict[str, Any] = raw if isinstance(raw, dict) else {}
    name = info.get("name") if info else raw
    if name is None:
        return None
    if not isinstance(name, str) or not ID.match(name):
        conv.diags.append(doc.diagnostic((*where, "name") if info else where,
                          f"expected a service name of letters, digits, '.', '_', ':', '-' (got {name!r})"))
        return None
    draft = conv.draft(name)
    if draft.named_at is None:
        draft.named_at = (doc, where)
    fields = {
        "version": info.get("version", data.get("version", meta.get("version"))),
        "owners": info.get("owners", data.get("owners", data.get("owner", data.get("team")))),
        "description": info.get("description", data.get("description")),
        "critical": info.get("critical", data.get("critical")),
    }
    for key, value in fields.items():
        if value is None:
            continue
        try:
            value = shapes.service_field(key, value)
        except SeedItemError as e:
            conv.diags.append(doc.diagnostic(where if key not in data else (key,), e.message))
            continue
        old = draft.info.setdefault(key, value)
        if old != value:
            conv.diags.append(doc.diagnostic((key,) if key in data else where,
                              f"{key} {value!r} differs from {old!r} given earlier; keeping {old!r}",
                              severity="warning"))
    return name
