"""`mcptrain serve`: 401 / 403 / 429, an audit line per access without the token, consent."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mcptrain.commands.serve import build_server

ORCH, READER = "orch-token-1f2e3d", "reader-token-9a8b7c"


def _configure(root: Path, *, public: bool, rate_limit: int = 50) -> None:
    with (root / "mcptrain.yaml").open("a", encoding="utf-8") as f:
        f.write(f"publish:\n  rate_limit: {rate_limit}\n  clients:\n"
                "    - {name: ml-platform, roles: [ml_orchestrator], token_env: T_ORCH}\n"
                "    - {name: dashboards, roles: [reader], token_env: T_READER}\n")
    if public:
        svc = root / "specs/payment/service.yaml"
        svc.write_text(svc.read_text(encoding="utf-8") + "consent: {public_discovery: true}\n", encoding="utf-8")


@pytest.fixture
def serve(good_project: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    monkeypatch.setenv("T_ORCH", ORCH)
    monkeypatch.setenv("T_READER", READER)
    started = []

    def start(**kw: object) -> str:
        _configure(good_project, **kw)  # type: ignore[arg-type]
        server = build_server("payment-service", good_project, address="127.0.0.1:0")
        assert server is not None
        threading.Thread(target=server.serve_forever, daemon=True).start()
        started.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in started:
        server.shutdown()
        server.server_close()


def _audit(root: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (root / ".mcptrain/audit.log").read_text(encoding="utf-8").splitlines()]


def test_tokens_roles_and_the_audit_log(serve: object, good_project: Path) -> None:
    base = serve(public=False)  # type: ignore[operator]
    training = f"{base}/mcp/training-dataset"
    assert httpx.get(training).status_code == 401
    assert httpx.get(training).headers["WWW-Authenticate"] == 'Bearer realm="mcptrain"'
    assert httpx.get(training, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert httpx.get(training, headers={"Authorization": f"Bearer {READER}"}).status_code == 403
    ok = httpx.get(training, headers={"Authorization": f"Bearer {ORCH}"})
    assert ok.status_code == 200 and ok.json()["service"] == "payment-service"
    assert len(ok.json()["training_examples"]) == 16
    test = httpx.get(f"{base}/mcp/test-dataset", headers={"Authorization": f"Bearer {ORCH}"})
    assert test.json()["test_scenarios"][0]["id"] == "PAY-T-001"
    assert httpx.get(f"{base}/.well-known/mcp-training-data.json").status_code == 401  # consent: not public
    discovery = httpx.get(f"{base}/.well-known/mcp-training-data.json", headers={"Authorization": f"Bearer {READER}"})
    assert discovery.status_code == 200
    assert discovery.json()["training_data"]["endpoint"] == f"{base}/mcp/training-dataset"
    assert httpx.get(f"{base}/nope", headers={"Authorization": f"Bearer {ORCH}"}).status_code == 404

    lines = _audit(good_project)
    assert [(e["who"], e["path"], e["status"]) for e in lines] == [
        ("anonymous", "/mcp/training-dataset", 401), ("anonymous", "/mcp/training-dataset", 401),
        ("anonymous", "/mcp/training-dataset", 401), ("dashboards", "/mcp/training-dataset", 403),
        ("ml-platform", "/mcp/training-dataset", 200), ("ml-platform", "/mcp/test-dataset", 200),
        ("anonymous", "/.well-known/mcp-training-data.json", 401),
        ("dashboards", "/.well-known/mcp-training-data.json", 200), ("ml-platform", "/nope", 404)]
    assert all({"time", "who", "from", "method", "path", "status"} == set(e) for e in lines)
    text = (good_project / ".mcptrain/audit.log").read_text(encoding="utf-8")
    assert ORCH not in text and READER not in text and "wrong" not in text


def test_public_discovery_where_consent_allows_and_the_rate_limit(serve: object, good_project: Path) -> None:
    base = serve(public=True, rate_limit=3)  # type: ignore[operator]
    discovery = f"{base}/.well-known/mcp-training-data.json"
    assert [httpx.get(discovery).status_code for _ in range(4)] == [200, 200, 200, 429]
    limited = httpx.get(discovery)
    assert limited.status_code == 429 and 1 <= int(limited.headers["Retry-After"]) <= 60
    auth = {"Authorization": f"Bearer {ORCH}"}  # another caller has its own allowance
    assert [httpx.get(f"{base}/mcp/training-dataset", headers=auth).status_code for _ in range(4)] == [200, 200, 200, 429]
    assert _audit(good_project)[-1] == {**_audit(good_project)[-1], "who": "ml-platform", "status": 429}
