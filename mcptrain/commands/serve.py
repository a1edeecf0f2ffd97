"""`mcptrain serve SERVICE`: hand out the service's published documents over HTTP.

The same documents `mcptrain export` writes, built from the specs when the server
starts; who may read them is `publish:` in mcptrain.yaml (each caller's token comes from
the environment variable it names) and the service's `consent:`.
"""

from __future__ import annotations

import json
import os
from http.server import ThreadingHTTPServer
from pathlib import Path

from mcptrain import output
from mcptrain.errors import ConfigError


def run(service: str, root: Path, *, address: str) -> int:
    server = build_server(service, root, address=address)
    if server is None:
        return 1
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        output.info("mcptrain: stopped")
    finally:
        server.server_close()
    return 0


def build_server(service: str, root: Path, *, address: str) -> ThreadingHTTPServer | None:
    """The server, bound and ready (None when the specs are invalid: the errors are printed)."""
    from mcptrain.commands.export import bundle_of
    from mcptrain.publishing.documents import publish_service
    from mcptrain.publishing.server import Caller, Policy, make_server
    from mcptrain.specs.loader import ServiceBundle
    from mcptrain.specs.validator import validate_repository
    from mcptrain.workspace import Workspace

    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError(f"--address: expected HOST:PORT (got {address!r})", hint="e.g. --address 127.0.0.1:8080")
    ws = Workspace(root)
    result = validate_repository(root, ws.load_specs())
    if result.errors:
        output.diagnostics(result.errors)
        output.error("fix these first (`mcptrain validate`); not serving invalid specs")
        return None
    bundle = bundle_of(result.specs, service)
    assert isinstance(bundle, ServiceBundle) and bundle.service is not None
    publish = result.specs.project_spec.publish
    callers = []
    for c in publish.clients:
        token = os.environ.get(c.token_env)
        if not token:
            output.warn(f"publish.clients: {c.name}: environment variable {c.token_env} is not set; "
                        "that caller cannot authenticate")
            continue
        callers.append(Caller(c.name, frozenset(c.roles), token))
    policy = Policy({}, callers, bundle.service.spec.consent.public_discovery, publish.rate_limit,
                    root / publish.audit_log if publish.audit_log else ws.state_dir / "audit.log")
    server = make_server(policy, host, int(port))  # bound first: port 0 becomes the real port
    base = publish.base_url or f"http://{host}:{server.server_address[1]}"
    published = publish_service(bundle, result.specs.project_spec.max_template_expansions, base)
    policy.documents.update({p: json.dumps(d, ensure_ascii=False).encode("utf-8")
                             for p, d in published.documents().items()})
    discovery = "public" if policy.public_discovery else "for known callers only"
    output.info(f"mcptrain: serving {service} on http://{host}:{server.server_address[1]} "
                f"({len(callers)} caller{'' if len(callers) == 1 else 's'}; discovery {discovery}; "
                f"audit log {policy.audit_log}); Ctrl-C stops")
    return server
