"""`mcptrain import mcp SERVICE`: a service's live MCP server's tools into its ToolSet.

The server is the one `mcp_servers.<SERVICE>` in mcptrain.yaml names (a stdio command or
a streamable HTTP URL). New tools are added, changed schemas updated in place (comments
kept), tools the server no longer lists are reported and kept; nothing but ToolSet files
is written. Run it again and nothing changes.
"""

from __future__ import annotations

import difflib
from pathlib import Path

from mcptrain import output
from mcptrain.errors import ConfigError
from mcptrain.specs.loader import PROJECT_FILE
from mcptrain.specs.models import McpServerSpec, ProjectSpec
from mcptrain.suggestions import did_you_mean


def server_of(project: ProjectSpec, service: str) -> McpServerSpec:
    """The service's `mcp_servers` entry, or an error that says how to add one."""
    server = project.mcp_servers.get(service)
    if server is None:
        guess = did_you_mean(service, project.mcp_servers)
        raise ConfigError(
            f"{PROJECT_FILE}: mcp_servers has no entry for {service!r}" + (f" ({guess})" if guess else ""),
            hint=f"add `mcp_servers: {{{service}: {{command: [...]}}}}` (stdio) or "
                 f"`{{url: https://...}}` (streamable HTTP) to {PROJECT_FILE}")
    return server


def run(service: str, root: Path, *, dry_run: bool = False) -> int:
    from mcptrain.files import replace_file, write_new_file
    from mcptrain.servers.client import describe_server, list_tools
    from mcptrain.servers.toolset import plan_toolset_update, spec_tools
    from mcptrain.workspace import Workspace

    ws = Workspace(root)
    specs, diags = ws.load_specs()
    errors = [d for d in diags if d.severity == "error"]
    if errors:  # a ToolSet that cannot be read cannot be updated safely
        output.diagnostics(errors)
        output.error("fix these first (`mcptrain validate`); nothing written")
        return 1
    server = server_of(specs.project_spec, service)
    where = f"the MCP server of {service!r} ({describe_server(server)})"
    live = spec_tools(list_tools(service, server), where)
    update = plan_toolset_update(root, service, specs.services.get(service), live)
    output.info(f"read {where}: {len(live)} tool{'' if len(live) == 1 else 's'}")
    for edit in update.edits:
        before = "" if edit.new else (root / edit.rel).read_text(encoding="utf-8")
        diff = difflib.unified_diff(before.splitlines(keepends=True), edit.text.splitlines(keepends=True),
                                    f"a/{edit.rel}", f"b/{edit.rel}")
        output.info("".join(diff).rstrip("\n"))
    for name in update.removed:
        output.warn(f"{service}: tool {name!r} is in the specs but the server no longer lists it; kept "
                    "(remove it and its examples by hand, or run `mcptrain drift` to see what it breaks)")
    summary = (f"{len(update.added)} added, {len(update.changed)} changed, {len(update.removed)} removed, "
               f"{len(update.unchanged)} unchanged")
    if not update.edits:
        output.info(f"mcptrain: {service}'s ToolSet matches its server ({summary}); nothing to change")
        return 0
    if dry_run:
        output.info(f"mcptrain: {summary}; nothing written (run without --dry-run to apply)")
        return 0
    for edit in update.edits:
        (write_new_file if edit.new else replace_file)(root / edit.rel, edit.text)
    files = ", ".join(e.rel for e in update.edits)
    output.info(f"mcptrain: {summary}; wrote {files}; next: review the diff, then run `mcptrain validate`")
    return 0
