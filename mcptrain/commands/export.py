"""`mcptrain export SERVICE`: the service's published documents, as files.

Writes `<out>/.well-known/mcp-training-data.json`, `<out>/mcp/training-dataset` and
`<out>/mcp/test-dataset` (named as their URL paths, so any static web server publishes
them at the right addresses). `mcptrain serve` hands out the same documents with
authentication; `mcptrain import seed` reads them back.
"""

from __future__ import annotations

from pathlib import Path

from mcptrain import output
from mcptrain.errors import ConfigError
from mcptrain.specs.loader import Specs
from mcptrain.suggestions import did_you_mean


def bundle_of(specs: Specs, service: str) -> object:
    bundle = specs.services.get(service)
    if bundle is None or bundle.service is None:
        guess = did_you_mean(service, specs.services)
        raise ConfigError(f"no service {service!r} in specs/" + (f" ({guess})" if guess else ""),
                          hint="name a service by its service.yaml `name`")
    return bundle


def run(service: str, root: Path, *, out: Path | None = None, base_url: str | None = None) -> int:
    from mcptrain.files import write_json
    from mcptrain.publishing.documents import DISCOVERY_PATH, publish_service
    from mcptrain.specs.loader import ServiceBundle
    from mcptrain.specs.validator import validate_repository
    from mcptrain.workspace import Workspace

    ws = Workspace(root)
    result = validate_repository(root, ws.load_specs())
    if result.errors:  # only valid specs are published
        output.diagnostics(result.errors)
        output.error("fix these first (`mcptrain validate`); nothing written")
        return 1
    bundle = bundle_of(result.specs, service)
    assert isinstance(bundle, ServiceBundle)
    project = result.specs.project_spec
    published = publish_service(bundle, project.max_template_expansions, base_url or project.publish.base_url or "")
    target = out or ws.export_dir(service)
    documents = published.documents()
    paths = {url_path: target / url_path.lstrip("/") for url_path in documents}
    foreign = [p for p in paths.values() if not _replaceable(p, service)]
    if foreign:
        raise ConfigError(f"{foreign[0]} exists and is not an export of {service}; nothing written",
                          hint="export into an empty folder (--out), or move that file away")
    # The payloads first, the discovery document that points at them last: a reader never
    # finds a discovery document whose payloads are older than it.
    for url_path in sorted(documents, key=lambda u: u == DISCOVERY_PATH):
        write_json(paths[url_path], documents[url_path])
    for why in published.skipped:
        output.warn(f"not exported: {why}")
    meta = published.training["metadata"]
    scenarios = _n(len(published.test["test_scenarios"]), "test scenario")
    output.info(f"mcptrain: exported {service} {published.discovery['version']}: {meta['total_examples']} training "
                f"rows, {scenarios} into {target}; next: publish that "
                f"folder, or run `mcptrain serve {service}`")
    return 0


def _replaceable(path: Path, service: str) -> bool:
    """Whether `path` is free, or holds what an earlier export of `service` wrote (never a
    person's file: an --out folder may be a website's)."""
    import json

    if not path.exists():
        return True
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError, RecursionError):
        return False
    return isinstance(data, dict) and data.get("service") == service


def _n(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"
