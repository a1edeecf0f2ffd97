"""`validate` checks the names mcptrain.yaml's mcp_servers:, sources: and publish: refer to,
at the key, with did-you-mean (before `drift`, `pull` or `serve` trip over them)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli import mcptrain


def _append(root: Path, block: str) -> int:
    """Append `block` to mcptrain.yaml; the line number its first line lands on."""
    path = root / "mcptrain.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text + block, encoding="utf-8")
    return text.count("\n") + 1


def test_an_mcp_server_of_no_service_is_an_error_at_its_key(good_project: Path) -> None:
    line = _append(good_project, "mcp_servers:\n  paymnet-service: {url: 'http://127.0.0.1:9/mcp'}\n"
                                 "  payment-service: {url: 'http://127.0.0.1:9/mcp'}\n  ledger: {command: [ledger-mcp]}\n")
    code, _, err = mcptrain("validate", str(good_project))
    assert code == 1
    assert (f"mcptrain.yaml:{line + 1}:3: mcp_servers.paymnet-service: no service 'paymnet-service' in specs/ "
            "(mcp_servers names a service)\n    hint: did you mean 'payment-service'?") in err
    assert (f"mcptrain.yaml:{line + 3}:3: mcp_servers.ledger: no service 'ledger' in specs/ (mcp_servers names a "
            "service)\n    hint: for a new service, first write its specs/<dir>/service.yaml ('name: ledger'), "
            "then `mcptrain import mcp ledger`") in err
    assert "mcp_servers.payment-service" not in err
    assert err.splitlines()[-1] == "mcptrain: 2 errors in 1 file, 3 warnings"


def test_sources_are_checked_against_the_specs_folders(good_project: Path) -> None:
    line = _append(good_project, "sources:\n"
                                 "  - {name: payment-service, url: 'http://127.0.0.1:9/d.json'}\n"
                                 "  - {name: inventory, url: 'http://127.0.0.1:9/d.json'}\n"
                                 "  - {name: inventory, url: 'http://127.0.0.1:9/e.json'}\n")
    code, _, err = mcptrain("validate", str(good_project))
    assert code == 1
    assert (f"mcptrain.yaml:{line + 1}:12: sources[0].name: 'payment-service' is a service of this repository "
            "(specs/payment/ was written by a person, not pulled); `mcptrain pull` never writes over it\n"
            "    hint: rename or remove the source, or move the local service away") in err
    assert (f"mcptrain.yaml:{line + 2}:12: warning: sources[1].name: no service 'inventory' in specs/ yet: its data "
            "is not built until `mcptrain pull` fetches it\n"
            "    hint: run `mcptrain pull` (or `mcptrain build --pull`)") in err
    assert (f"mcptrain.yaml:{line + 3}:12: sources[2].name: source 'inventory' is listed twice (first as "
            "sources[0])") not in err
    assert f"mcptrain.yaml:{line + 3}:12: sources[2].name: source 'inventory' is listed twice (first as sources[1])" in err


def test_a_pulled_folder_is_a_source_and_an_orphan_is_warned_about(good_project: Path) -> None:
    (good_project / "specs/payment/.source.json").write_text(json.dumps({"name": "payment-service"}), encoding="utf-8")
    line = _append(good_project, "sources:\n  - {name: payment-servce, url: 'http://127.0.0.1:9/d.json'}\n")
    code, _, err = mcptrain("validate", str(good_project))
    assert code == 0, err
    assert (f"mcptrain.yaml:{line + 1}:12: warning: sources[0].name: no service 'payment-servce' in specs/ yet: its "
            "data is not built until `mcptrain pull` fetches it\n    hint: did you mean 'payment-service'?") in err
    assert (f"mcptrain.yaml:{line}:1: warning: sources: specs/payment/ was pulled from source 'payment-service', "
            "which sources: no longer lists; its data is still built\n"
            "    hint: did you mean 'payment-servce'?") in err

    (good_project / "mcptrain.yaml").write_text((good_project / "mcptrain.yaml").read_text(encoding="utf-8")
                                                .replace("payment-servce", "payment-service"), encoding="utf-8")
    code, _, err = mcptrain("validate", str(good_project))
    assert code == 0 and "sources" not in err


def test_publish_callers_are_told_apart(good_project: Path) -> None:
    line = _append(good_project, "publish:\n  clients:\n"
                                 "    - {name: platform, roles: [ml_orchestrator], token_env: T_A}\n"
                                 "    - {name: platform, roles: [ml-orchestrator, reader], token_env: T_A}\n")
    code, _, err = mcptrain("validate", str(good_project))
    assert code == 1
    assert (f"mcptrain.yaml:{line + 3}:14: publish.clients[1].name: caller 'platform' is listed twice (first as "
            "publish.clients[0]); the audit log could not tell them apart") in err
    assert (f"mcptrain.yaml:{line + 3}:69: publish.clients[1].token_env: T_A is already the token of "
            "publish.clients[0]; one token would authenticate two callers") in err
    assert (f"mcptrain.yaml:{line + 3}:32: warning: publish.clients[1].roles[0]: role 'ml-orchestrator' is not "
            "'ml_orchestrator': `mcptrain serve` answers this caller 403 for the datasets\n"
            "    hint: did you mean 'ml_orchestrator'?") in err
    assert "roles[1]" not in err  # a role of one's own (discovery only) is no typo
