"""A repository whose services have live MCP servers: real servers written with the `mcp`
SDK (tests/servers/tool_server.py), over stdio and over streamable HTTP on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mcptrain.specs.yaml import load_document

SERVER = Path(__file__).parent / "tool_server.py"


def spec_tools(root: Path, service_dir: str = "payment") -> list[dict[str, Any]]:
    data = load_document(root / "specs" / service_dir / "tools.yaml").data
    return json.loads(json.dumps(data["tools"]))


def set_tools(path: Path, tools: list[dict[str, Any]]) -> None:
    """What the server lists from now on (it reads the file on every tools/list)."""
    path.write_text(json.dumps(tools), encoding="utf-8")


def add_servers(root: Path, block: str) -> None:
    with (root / "mcptrain.yaml").open("a", encoding="utf-8") as f:
        f.write(block)


@pytest.fixture
def stdio_project(good_project: Path) -> tuple[Path, Path]:
    """The good project with payment-service served over stdio; (root, the server's tools file)."""
    tools_file = good_project / "live-tools.json"
    set_tools(tools_file, spec_tools(good_project))
    tools_yaml = good_project / "specs" / "payment" / "tools.yaml"
    text = tools_yaml.read_text(encoding="utf-8")
    tools_yaml.write_text(text.replace("    inputSchema:", "    inputSchema:  # as the server lists it", 1)
                          .replace("        amount:", "        # cents, never dollars\n        amount:", 1),
                          encoding="utf-8")
    add_servers(good_project, f"mcp_servers:\n  payment-service:\n"
                f"    command: [{sys.executable}, {SERVER}, {tools_file}, stdio]\n    timeout: 20\n")
    return good_project, tools_file


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def http_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A streamable HTTP MCP server on 127.0.0.1: (its URL, its tools file)."""
    tools_file = tmp_path_factory.mktemp("http") / "tools.json"
    set_tools(tools_file, [])
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(SERVER), str(tools_file), "http", str(port)])
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}/mcp", tools_file
    finally:
        proc.terminate()
        proc.wait(timeout=10)
