"""`mcptrain status`: Sync and Health per model and per service, Argo CD style."""

from __future__ import annotations

from pathlib import Path

from mcptrain import output


def run(root: Path, *, json_out: bool = False) -> int:
    from mcptrain.reconciler.status import DEGRADED, OUT_OF_SYNC, repository_status
    from mcptrain.workspace import Workspace

    statuses = repository_status(Workspace(root))
    if json_out:
        output.emit_json([s.as_dict() for s in statuses])
        return 0
    output.table("status", ["", "name", "sync", "health", "production"],
                 [(s.kind, s.name, s.sync, s.health, f"v{s.version}" if s.version else "-") for s in statuses])
    for s in statuses:
        for line in s.differs if s.sync == OUT_OF_SYNC else []:
            output.info(f"  {s.kind} {s.name} OutOfSync: {line}")
        if s.why and (s.kind == "model" or s.health == DEGRADED):
            output.info(f"  {s.kind} {s.name} {s.health}: {s.why}")
    model = statuses[0]
    if model.sync == OUT_OF_SYNC:
        output.info("mcptrain: next: mcptrain plan (what a reconcile would train, and the version it would get)")
    return 0
