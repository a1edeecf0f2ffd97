"""`mcptrain pull`: a real `mcptrain serve` as one source, a source that is down, and
hostile payloads; the build goes on with what could be pulled, with provenance."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from mcptrain.commands.serve import build_server
from mcptrain.dataset.build import build_dataset
from tests.cli import mcptrain

TOKEN = "pull-token-5c4b3a"


@pytest.fixture
def publisher(good_project: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The good project's payment-service, served by `mcptrain serve` on 127.0.0.1."""
    monkeypatch.setenv("T_ORCH", TOKEN)
    with (good_project / "mcptrain.yaml").open("a", encoding="utf-8") as f:
        f.write("publish:\n  clients:\n    - {name: platform, roles: [ml_orchestrator], token_env: T_ORCH}\n")
    server = build_server("payment-service", good_project, address="127.0.0.1:0")
    assert server is not None
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/.well-known/mcp-training-data.json"
    server.shutdown()
    server.server_close()


@pytest.fixture
def hostile() -> Iterator[tuple[str, dict[str, Any]]]:
    """A server answering whatever `pages[path]` holds: (status, bytes)."""
    pages: dict[str, Any] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            pages.setdefault("seen", []).append((self.headers.get("Host"), self.path, self.headers.get("Authorization")))
            status, body = pages.get(self.path, (404, b"{}"))
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", pages
    server.shutdown()
    server.server_close()


def _down_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/.well-known/mcp-training-data.json"


def _consumer(tmp_path: Path, sources: list[dict[str, Any]]) -> Path:
    root = tmp_path / "platform"
    assert mcptrain("init", str(root))[0] == 0
    with (root / "mcptrain.yaml").open("a", encoding="utf-8") as f:
        f.write("sources:\n" + "".join(f"  - {json.dumps(s)}\n" for s in sources))
    return root


def test_a_down_source_is_skipped_and_the_rest_builds_with_provenance(
        publisher: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MCPTRAIN_SOURCE_TOKEN", TOKEN)
    root = _consumer(tmp_path, [{"name": "payment-service", "url": publisher},
                                {"name": "inventory", "url": _down_url(), "timeout": 2, "retries": 1}])
    code, out, err = mcptrain("pull", str(root))
    assert code == 1
    assert "pulled payment-service 1.2.0 from " in out and "into specs/payment/" in out
    assert "skipped source inventory: http://127.0.0.1:" in err and "ConnectError" in err and "(2 attempts)" in err
    assert "mcptrain: pulled 1 of 2 sources; provenance in sources.lock.json" in out
    lock = json.loads((root / "sources.lock.json").read_text(encoding="utf-8"))
    (entry,) = lock["sources"]
    assert (entry["name"], entry["url"], entry["version"], entry["folder"]) == \
        ("payment-service", publisher, "1.2.0", "specs/payment")
    assert len(entry["sha256"]) == 64
    assert TOKEN not in (root / "sources.lock.json").read_text(encoding="utf-8") + out + err

    build_dataset(root)  # the build stage itself (the CLI also counts tokens with the real tokenizer: slow)
    manifest = json.loads((root / "datasets/manifest.json").read_text(encoding="utf-8"))
    assert [(s["name"], s["version"], s["sha256"]) for s in manifest["sources"]] == \
        [("payment-service", "1.2.0", entry["sha256"])]
    assert set(manifest["counts"]["services"]) == {"payment-service"}


def test_pulling_again_replaces_the_folder_and_never_a_persons(
        publisher: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MCPTRAIN_SOURCE_TOKEN", TOKEN)
    root = _consumer(tmp_path, [{"name": "payment-service", "url": publisher}])
    assert mcptrain("pull", str(root))[0] == 0
    files = sorted(p.relative_to(root).as_posix() for p in (root / "specs/payment").rglob("*"))
    assert mcptrain("pull", str(root))[0] == 0  # the same documents: the same files, nothing "already present"
    assert sorted(p.relative_to(root).as_posix() for p in (root / "specs/payment").rglob("*")) == files
    assert mcptrain("validate", str(root))[0] == 0

    other = _consumer(tmp_path / "b", [{"name": "payment-service", "url": publisher}])
    (other / "specs/payment").mkdir(parents=True)
    (other / "specs/payment/notes.yaml").write_text("# mine\n", encoding="utf-8")
    code, _, err = mcptrain("pull", str(other))
    assert code == 1 and "specs/payment/ exists and was not pulled" in err
    assert (other / "specs/payment/notes.yaml").read_text(encoding="utf-8") == "# mine\n"


def test_a_wrong_token_is_a_clear_error(publisher: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MCPTRAIN_SOURCE_TOKEN", "not-the-token")
    root = _consumer(tmp_path, [{"name": "payment-service", "url": publisher}])
    code, _, err = mcptrain("pull", str(root))
    assert code == 1
    assert "/.well-known/mcp-training-data.json: HTTP 401 (no or a wrong token: set MCPTRAIN_SOURCE_TOKEN)" in err
    assert not (root / "specs/payment").exists()


@pytest.mark.parametrize(("body", "message"), [
    (b"\xff\xfe not utf-8", "file is not valid UTF-8 (byte 0xff)"),
    (b"[1, 2]", "expected a JSON object at the top level (got an array)"),
    (b'{"service": "inventory", "x": ' + b"[" * 200 + b"]" * 200 + b"}", "nesting is deeper than 64 levels"),
    (b'{"service": "inventory", "pad": "' + b"x" * 5000 + b'"}', "payload is 5035 bytes; the limit is 4096"),
    (b'{"service": "inventory", "training_examples": "lots"}', "training_examples: expected an array (got a string)"),
    (b'{"service": "payments"}', "publishes service 'payments', not 'inventory'"),
])
def test_hostile_payloads_are_refused_with_nothing_written(
        hostile: tuple[str, dict[str, Any]], tmp_path: Path, body: bytes, message: str) -> None:
    base, pages = hostile
    pages["/.well-known/mcp-training-data.json"] = (200, body)
    root = _consumer(tmp_path, [{"name": "inventory", "url": f"{base}/.well-known/mcp-training-data.json",
                                 "max_bytes": 4096, "retries": 0, "token_env": None}])
    before = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if ".mcptrain" not in p.parts)
    code, _, err = mcptrain("pull", str(root))
    assert code == 1
    assert "skipped source inventory: " in err and message in err
    after = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if ".mcptrain" not in p.parts)
    assert [p for p in after if p not in before] == ["sources.lock.json"]
    assert json.loads((root / "sources.lock.json").read_text(encoding="utf-8")) == {"sources": []}


def test_a_server_error_is_retried(hostile: tuple[str, dict[str, Any]], tmp_path: Path) -> None:
    base, pages = hostile
    pages["/.well-known/mcp-training-data.json"] = (503, b"busy")
    root = _consumer(tmp_path, [{"name": "inventory", "url": f"{base}/.well-known/mcp-training-data.json",
                                 "retries": 1, "token_env": None}])
    code, _, err = mcptrain("pull", str(root))
    assert code == 1 and "HTTP 503 (2 attempts)" in err


def test_build_pull_builds_what_it_could_pull(publisher: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`mcptrain build --pull` end to end: the source that answers is built, the one that is
    down is reported and skipped, and the manifest names what was built from where."""
    monkeypatch.setenv("MCPTRAIN_SOURCE_TOKEN", TOKEN)
    root = _consumer(tmp_path, [{"name": "payment-service", "url": publisher},
                                {"name": "inventory", "url": _down_url(), "timeout": 2, "retries": 0}])
    project = root / "mcptrain.yaml"  # no local training: the build skips counting tokens with the real tokenizer
    project.write_text(project.read_text(encoding="utf-8").replace("backend: lora", "backend: prompt"), encoding="utf-8")
    code, out, err = mcptrain("build", str(root), "--no-dvc", "--pull")
    assert code == 0, err
    assert "skipped source inventory: http://127.0.0.1:" in err and "(1 attempt)" in err
    assert "mcptrain: pulled 1 of 2 sources; provenance in sources.lock.json" in out
    assert "services: 1 (payment-service) compiled" in out and "mcptrain: built " in out
    manifest = json.loads((root / "datasets/manifest.json").read_text(encoding="utf-8"))
    lock = json.loads((root / "sources.lock.json").read_text(encoding="utf-8"))
    assert manifest["sources"] == lock["sources"] and [s["name"] for s in lock["sources"]] == ["payment-service"]
    assert set(manifest["counts"]["services"]) == {"payment-service"}
    built = "".join(p.read_text(encoding="utf-8") for p in (root / "datasets").rglob("*") if p.is_file())
    assert TOKEN not in built + out + err


def test_the_token_goes_only_to_the_sources_own_address(
        hostile: tuple[str, dict[str, Any]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    base, pages = hostile
    elsewhere = base.replace("127.0.0.1", "localhost")  # the same server under another name: another origin
    pages["/.well-known/mcp-training-data.json"] = (200, json.dumps({
        "service": "inventory", "version": "1.0.0",
        "training_data": {"available": True, "endpoint": f"{elsewhere}/mcp/training-dataset"}}).encode())
    monkeypatch.setenv("MCPTRAIN_SOURCE_TOKEN", TOKEN)
    root = _consumer(tmp_path, [{"name": "inventory", "url": f"{base}/.well-known/mcp-training-data.json",
                                 "retries": 0}])
    code, _, err = mcptrain("pull", str(root))
    assert code == 1
    assert (f"skipped source inventory: {base}/.well-known/mcp-training-data.json: its discovery document points at "
            f"{elsewhere}, not at {base}; the token is sent only to the source's own address") in err
    assert [path for _, path, _ in pages["seen"]] == ["/.well-known/mcp-training-data.json"]
    assert not (root / "specs/inventory").exists()
