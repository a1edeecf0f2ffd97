"""`mcptrain drift`: every ToolSet against its live MCP server.

Each difference is reported with the semver impact it would have on the next model
version and the examples, edge cases and scenarios it invalidates. Exit codes follow
`terraform plan -detailed-exitcode`, so a scheduled CI job can alert: 0 no drift,
2 drift, 1 a server could not be listed (or the specs are invalid).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from mcptrain import output
from mcptrain.errors import MCPTrainError

if TYPE_CHECKING:
    from mcptrain.servers.drift import ServiceDrift

SHOWN = 5  # invalidated rows listed per difference before "and N more"


def run(root: Path, *, services: list[str], json_out: bool = False) -> int:
    from mcptrain.commands.import_mcp import server_of
    from mcptrain.servers.client import describe_server, list_tools
    from mcptrain.servers.drift import find_drift
    from mcptrain.servers.toolset import spec_tools
    from mcptrain.workspace import Workspace

    ws = Workspace(root)
    specs, diags = ws.load_specs()
    errors = [d for d in diags if d.severity == "error"]
    if errors:
        output.diagnostics(errors)
        output.error("fix these first (`mcptrain validate`)")
        return 1
    project = specs.project_spec
    chosen = services or sorted(project.mcp_servers)
    servers = {svc: server_of(project, svc) for svc in chosen}
    live: dict[str, list[dict[str, Any]]] = {}
    failed: dict[str, str] = {}
    for svc, server in servers.items():
        try:
            live[svc] = spec_tools(list_tools(svc, server), f"the MCP server of {svc!r}")
        except MCPTrainError as e:
            failed[svc] = e.message
    report = find_drift(specs, diags, live, {svc: describe_server(srv) for svc, srv in servers.items()})
    for item in report:
        item.error = failed.get(item.service)
    unchecked = sorted(set(specs.services) - set(project.mcp_servers)) if not services else []
    drifted = [r for r in report if r.differences]
    code = 1 if failed else 2 if drifted else 0
    if json_out:
        output.emit_json({"services": [r.as_dict() for r in report], "unchecked": unchecked,
                          "drift": bool(drifted), "exit_code": code})
        return code
    for item in report:
        _show(item)
    if unchecked:
        output.info(f"not checked (no mcp_servers entry): {', '.join(unchecked)}")
    if failed:
        output.error(f"{len(failed)} server{'' if len(failed) == 1 else 's'} could not be listed")
    elif drifted:
        output.info(f"mcptrain: {len(drifted)} of {len(report)} service{'' if len(report) == 1 else 's'} drifted; next: "
                    f"`mcptrain import mcp {drifted[0].service}` to take the server's tools, then fix the rows listed")
    else:
        matches = "1 service matches its server" if len(report) == 1 else f"{len(report)} services match their servers"
        output.info(f"mcptrain: no drift ({matches})")
    return code


def _show(item: ServiceDrift) -> None:
    if item.error is not None:
        output.error(f"{item.service}: {item.error}")
        return
    if not item.differences:
        output.info(f"{item.service}: matches {item.server}")
        return
    output.info(f"{item.service}: {len(item.differences)} difference{'' if len(item.differences) == 1 else 's'} "
                f"with {item.server} (a {item.bump} version)")
    for diff in item.differences:
        output.info(f"  {diff.change.impact}: {diff.change.subject}: {diff.change.what}")
        for row in diff.invalidates[:SHOWN]:
            output.info(f"    invalidates {row.kind} {row.id} ({row.path}:{row.line}:{row.col}): {row.reason}")
        if len(diff.invalidates) > SHOWN:
            output.info(f"    and {len(diff.invalidates) - SHOWN} more")
