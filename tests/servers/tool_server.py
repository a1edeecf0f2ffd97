"""A real MCP server written with the `mcp` SDK, for the tests of `import mcp` and `drift`.

It lists the tools of a JSON file (MCP's own `tools/list` shape: name, description,
inputSchema) read on every `tools/list`, so a test changes the server by rewriting the
file. Run: `python tool_server.py TOOLS.json stdio` or `... TOOLS.json http PORT`;
`... TOOLS.json hang` answers nothing (a server that hangs), `crash` exits at once.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import mcp_types as types
from mcp.server.lowlevel.server import Server
from mcp.server.stdio import stdio_server


def make_server(tools_file: Path) -> Server[Any]:
    async def list_tools(ctx: Any, params: Any) -> types.ListToolsResult:
        tools = json.loads(tools_file.read_text(encoding="utf-8"))
        return types.ListToolsResult(tools=[types.Tool.model_validate(t) for t in tools])

    return Server("test-tools", on_list_tools=list_tools)


async def serve_stdio(server: Server[Any]) -> None:
    async with stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())


def serve_http(server: Server[Any], port: int) -> None:
    import uvicorn

    app = server.streamable_http_app(host="127.0.0.1")
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def main() -> None:
    tools_file, mode = Path(sys.argv[1]), sys.argv[2]
    if mode == "hang":
        time.sleep(3600)
    if mode == "crash":
        sys.stderr.write("payments database unreachable\n")
        sys.exit(1)
    server = make_server(tools_file)
    if mode == "stdio":
        anyio.run(serve_stdio, server)
    else:
        serve_http(server, int(sys.argv[3]))


if __name__ == "__main__":
    main()
