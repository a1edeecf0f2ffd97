"""`mcptrain import mcp SERVICE` against real MCP servers (stdio and streamable HTTP)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from tests.cli import mcptrain
from tests.servers.conftest import add_servers, set_tools, spec_tools


def _hashes(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted((root / "specs").rglob("*.yaml")) if p.name != "tools.yaml"}


def test_import_updates_the_toolset_keeps_comments_and_touches_nothing_else(stdio_project: tuple[Path, Path]) -> None:
    root, tools_file = stdio_project
    code, out, err = mcptrain("import", "mcp", "payment-service", "--root", str(root))
    assert code == 0, err
    assert "payment-service's ToolSet matches its server (0 added, 0 changed, 0 removed, 5 unchanged)" in out

    tools = spec_tools(root)
    tools[0]["inputSchema"]["properties"]["amount"]["description"] = "Amount in cents (> 0)"
    tools.pop()  # get_latest_order
    tools.append({"name": "refund_payment", "description": "Refund a payment.",
                  "inputSchema": {"type": "object", "properties": {"payment_id": {"type": "string"}},
                                  "required": ["payment_id"]}})
    set_tools(tools_file, tools)
    before = _hashes(root)
    code, out, err = mcptrain("import", "mcp", "payment-service", "--root", str(root))
    assert code == 0, err
    assert "1 added, 1 changed, 1 removed, 3 unchanged; wrote specs/payment/tools.yaml" in out
    assert "tool 'get_latest_order' is in the specs but the server no longer lists it; kept" in err
    text = (root / "specs/payment/tools.yaml").read_text(encoding="utf-8")
    assert "inputSchema:  # as the server lists it" in text
    assert "        # cents, never dollars\n        amount: {type: integer, minimum: 1, description: Amount in cents (> 0)}" in text
    assert "  - name: refund_payment\n    description: Refund a payment.\n" in text
    assert "name: get_latest_order" in text
    assert _hashes(root) == before  # examples, scenarios, service.yaml: untouched

    code, out, _ = mcptrain("import", "mcp", "payment-service", "--root", str(root))  # again: nothing to do
    assert code == 0 and "(0 added, 0 changed, 1 removed, 5 unchanged); nothing to change" in out
    assert mcptrain("validate", str(root))[0] == 0


def test_dry_run_writes_nothing(stdio_project: tuple[Path, Path]) -> None:
    root, tools_file = stdio_project
    tools = spec_tools(root)
    tools[1]["description"] = "Status of one payment."
    set_tools(tools_file, tools)
    before = (root / "specs/payment/tools.yaml").read_bytes()
    code, out, _ = mcptrain("import", "mcp", "payment-service", "--root", str(root), "--dry-run")
    assert code == 0
    assert "+    description: Status of one payment." in out
    assert "nothing written" in out
    assert (root / "specs/payment/tools.yaml").read_bytes() == before


def test_over_http_with_a_token_a_new_service_gets_a_new_toolset(
        good_project: Path, http_server: tuple[str, Path], monkeypatch: object) -> None:
    url, tools_file = http_server
    import pytest

    assert isinstance(monkeypatch, pytest.MonkeyPatch)
    stock = {"name": "get_stock", "description": "Units in stock.",
             "inputSchema": {"type": "object", "required": ["sku"], "properties": {
                 "sku": {"type": "string"}, "site": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None}}}}
    set_tools(tools_file, [stock])
    inv = good_project / "specs" / "inventory"
    inv.mkdir()
    (inv / "service.yaml").write_text("apiVersion: mcptrain/v1\nkind: Service\nname: inventory\n", encoding="utf-8")
    add_servers(good_project, f"mcp_servers:\n  inventory: {{url: '{url}', token_env: INVENTORY_MCP_TOKEN}}\n")
    code, _, err = mcptrain("import", "mcp", "inventory", "--root", str(good_project))
    assert code == 1 and "environment variable INVENTORY_MCP_TOKEN is not set" in err
    monkeypatch.setenv("INVENTORY_MCP_TOKEN", "s3cret-token")
    code, out, err = mcptrain("import", "mcp", "inventory", "--root", str(good_project))
    assert code == 0, err
    assert "wrote specs/inventory/tools.yaml" in out
    assert "s3cret-token" not in out + err
    text = (inv / "tools.yaml").read_text(encoding="utf-8")
    assert "kind: ToolSet\nservice: inventory\ntools:\n- name: get_stock\n" in text

    # The server changes one description: a second import changes that line alone, in the
    # style the first wrote (its lists not re-indented, `null` still written).
    set_tools(tools_file, [{**stock, "description": "Units in stock at one site."}])
    code, out, err = mcptrain("import", "mcp", "inventory", "--root", str(good_project))
    assert code == 0 and "1 changed" in out, err
    again = (inv / "tools.yaml").read_text(encoding="utf-8")
    assert [(a, b) for a, b in zip(text.splitlines(), again.splitlines(), strict=True) if a != b] == [
        ("  description: Units in stock.", "  description: Units in stock at one site.")]


def test_unknown_service_and_a_hanging_server_are_clear_errors(stdio_project: tuple[Path, Path]) -> None:
    root, tools_file = stdio_project
    code, _, err = mcptrain("import", "mcp", "payment-servic", "--root", str(root))
    assert code == 1
    assert "mcptrain.yaml: mcp_servers has no entry for 'payment-servic' (did you mean 'payment-service'?)" in err
    text = (root / "mcptrain.yaml").read_text(encoding="utf-8")
    (root / "mcptrain.yaml").write_text(text.replace(", stdio]", ", hang]").replace("timeout: 20", "timeout: 1.5"),
                                        encoding="utf-8")
    before = (root / "specs/payment/tools.yaml").read_bytes()
    code, _, err = mcptrain("import", "mcp", "payment-service", "--root", str(root))
    assert code == 1
    assert "the MCP server of 'payment-service' (" in err and "hang) did not answer tools/list within 1.5s" in err
    assert (root / "specs/payment/tools.yaml").read_bytes() == before
