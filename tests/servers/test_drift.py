"""`mcptrain drift` against a real MCP server: each semver class, the rows a change
invalidates, the exit codes a scheduled CI job alerts on, and --json."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli import mcptrain
from tests.servers.conftest import set_tools, spec_tools


def test_no_drift_then_each_semver_class(stdio_project: tuple[Path, Path]) -> None:
    root, tools_file = stdio_project
    code, out, err = mcptrain("drift", str(root))
    assert code == 0, err
    assert "payment-service: matches " in out
    assert out.endswith("mcptrain: no drift (1 service matches its server)\n")

    tools = spec_tools(root)
    tools[0]["inputSchema"]["properties"]["amount"]["type"] = "string"          # major, breaks pay-001 ...
    tools[2]["inputSchema"]["properties"]["limit"] = {"type": "integer"}        # minor, breaks nothing
    tools[3]["description"] = "Find a customer by name."                        # patch
    set_tools(tools_file, tools)
    code, out, err = mcptrain("drift", str(root))
    assert code == 2, err
    assert "payment-service: 3 differences with " in out and "(a major version)" in out
    assert "  major: create_payment.amount: type changed from integer to string\n" in out
    assert "    invalidates example pay-001 (specs/payment/examples/charges.yaml:5:5): " in out
    assert "  minor: get_payments.limit: optional parameter limit added\n" in out
    assert "  patch: get_customer_by_name: description changed\n  minor:" in out
    assert out.endswith("mcptrain: 1 of 1 service drifted; next: `mcptrain import mcp payment-service` to take "
                        "the server's tools, then fix the rows listed\n")

    code, out, _ = mcptrain("drift", str(root), "--json")
    assert code == 2
    report = json.loads(out)
    assert report["drift"] is True and report["exit_code"] == 2
    (svc,) = report["services"]
    assert svc["bump"] == "major"
    by_subject = {(d["tool"], d["parameter"]): d for d in svc["differences"]}
    major = by_subject[("create_payment", "amount")]
    invalidated = {r["id"] for r in major["invalidates"]}
    assert {"pay-001", "pay-002", "pay-003"} <= invalidated
    assert any(r["kind"] == "scenario" for r in major["invalidates"])
    assert by_subject[("get_payments", "limit")]["invalidates"] == []
    assert by_subject[("get_customer_by_name", None)]["impact"] == "patch"


def test_a_removed_tool_invalidates_the_rows_that_call_it(stdio_project: tuple[Path, Path]) -> None:
    root, tools_file = stdio_project
    tools = [t for t in spec_tools(root) if t["name"] != "get_latest_order"]
    set_tools(tools_file, tools)
    code, out, _ = mcptrain("drift", str(root), "--json")
    assert code == 2
    (diff,) = json.loads(out)["services"][0]["differences"]
    assert (diff["tool"], diff["change"], diff["impact"]) == ("get_latest_order", "tool get_latest_order removed", "major")
    assert [r["id"] for r in diff["invalidates"]] == ["pay-002"]  # the sequence that calls it
    assert diff["invalidates"][0]["reason"] == "unknown tool 'get_latest_order'"


def test_a_server_that_cannot_be_listed_exits_1(stdio_project: tuple[Path, Path]) -> None:
    root, _ = stdio_project
    text = (root / "mcptrain.yaml").read_text(encoding="utf-8")
    (root / "mcptrain.yaml").write_text(text.replace(", stdio]", ", crash]"), encoding="utf-8")
    code, out, err = mcptrain("drift", str(root), "--json")
    assert code == 1
    svc = json.loads(out)["services"][0]
    assert svc["error"].startswith("cannot list the tools of the MCP server of 'payment-service'")
    assert svc["error"].endswith("\n    server: payments database unreachable")  # the server's stderr
