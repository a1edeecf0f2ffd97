"""`tools/list` from a service's live MCP server, through the official `mcp` SDK.

The server is reached over stdio (`command`, started as a child process that gets only
the environment variables `env` names) or streamable HTTP (`url`, with a bearer token
read from the environment variable `token_env`). Credentials never come from a file.
The whole exchange, start-up included, runs under the server's `timeout`, so a server
that hangs is a clear error naming it, never a hung command.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from mcptrain.errors import ConfigError, MCPTrainError
from mcptrain.specs.models import McpServerSpec

MAX_PAGES = 100  # tools/list is paginated; a server that never stops paging is an error
MAX_TOOLS = 10_000


class ServerError(MCPTrainError):
    """A live MCP server could not be reached, timed out, or answered something unusable."""


def describe_server(server: McpServerSpec) -> str:
    """How output names a server: its command line, or its URL without credentials."""
    if server.command is not None:
        return " ".join(server.command)
    parts = urlsplit(server.url or "")
    host = parts.hostname or ""
    netloc = host + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def list_tools(service: str, server: McpServerSpec) -> list[dict[str, Any]]:
    """The server's tools in MCP's own shape (name, title, description, inputSchema, ...)."""
    import tempfile

    import anyio

    where = f"the MCP server of {service!r} ({describe_server(server)})"
    with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as errlog:  # a stdio server's stderr
        try:
            return anyio.run(_list_tools, server, errlog)
        except TimeoutError:
            raise ServerError(f"{where} did not answer tools/list within {server.timeout:g}s{_said(errlog)}",
                              hint=f"check that it starts and answers; raise mcp_servers.{service}.timeout "
                                   "in mcptrain.yaml if it is just slow") from None
        except MCPTrainError:
            raise
        except Exception as e:  # the SDK's transports raise whatever their libraries raise
            cause = _leaf(e)
            raise ServerError(f"cannot list the tools of {where}: {type(cause).__name__}: {cause}{_said(errlog)}",
                              hint="check the command or URL under mcp_servers in mcptrain.yaml") from e


def _said(errlog: Any) -> str:
    """The last lines a stdio server wrote to stderr, for the error message."""
    errlog.seek(0)
    lines = [line.rstrip() for line in errlog.read()[-2000:].splitlines() if line.strip()][-5:]
    return "".join(f"\n    server: {line}" for line in lines)


async def _list_tools(server: McpServerSpec, errlog: Any) -> list[dict[str, Any]]:
    import anyio
    from mcp import Client

    tools: list[dict[str, Any]] = []
    with anyio.fail_after(server.timeout):
        async with _transport(server, errlog) as transport:
            async with Client(transport, read_timeout_seconds=server.timeout, mode="auto",
                              cache=None) as client:
                cursor: str | None = None
                for _ in range(MAX_PAGES):
                    page = await client.list_tools(cursor=cursor)
                    tools += [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in page.tools]
                    if len(tools) > MAX_TOOLS:
                        raise ServerError(f"the server lists more than {MAX_TOOLS} tools")
                    cursor = page.next_cursor
                    if cursor is None:
                        return tools
    raise ServerError(f"tools/list still had more pages after {MAX_PAGES}")


def _transport(server: McpServerSpec, errlog: Any) -> Any:
    """An async context manager yielding what `mcp.Client` connects through."""
    from contextlib import asynccontextmanager

    from mcp import StdioServerParameters
    from mcp.client.stdio import stdio_client

    @asynccontextmanager
    async def stdio() -> Any:
        assert server.command is not None
        # The SDK adds only a minimal environment (PATH, HOME, ...); credentials are the named variables.
        params = StdioServerParameters(command=server.command[0], args=server.command[1:],
                                       env={name: _env(name) for name in server.env})
        yield stdio_client(params, errlog=errlog)

    @asynccontextmanager
    async def http() -> Any:
        import httpx2
        from mcp.client.streamable_http import streamable_http_client

        headers = {"Authorization": f"Bearer {_env(server.token_env)}"} if server.token_env else {}
        async with httpx2.AsyncClient(headers=headers, timeout=server.timeout) as client:
            assert server.url is not None
            yield streamable_http_client(server.url, http_client=client)

    return stdio() if server.command is not None else http()


def _env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise ConfigError(f"environment variable {name} is not set (mcptrain.yaml names it for an MCP server)",
                          hint=f"export {name}=... before running mcptrain")
    return value


def _leaf(error: BaseException) -> BaseException:
    """The first real error inside anyio's exception groups."""
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    return error
