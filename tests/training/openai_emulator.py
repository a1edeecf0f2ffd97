"""A small stateful emulator of the OpenAI API on 127.0.0.1, reached through the real
`openai` client with `base_url`: files, fine-tuning jobs and chat completions."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from email.parser import BytesParser
from email.policy import default as email_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PROGRESSION = ["validating_files", "queued", "running", "succeeded"]


class Emulator:
    def __init__(self) -> None:
        self.files: dict[str, dict[str, Any]] = {}
        self.jobs: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str, str]] = []  # (method, path, authorization)
        self.fail_jobs = False
        self.chat: Callable[[dict[str, Any]], dict[str, Any]] = lambda body: {"content": "hello"}
        self.chat_requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def job(self, job_id: str) -> dict[str, Any]:
        with self.lock:
            job = self.jobs[job_id]
            i = PROGRESSION.index(job["status"]) if job["status"] in PROGRESSION else -1
            if 0 <= i < len(PROGRESSION) - 1:
                job["status"] = PROGRESSION[i + 1]
                if job["status"] == "running" and self.fail_jobs:
                    job["status"] = "failed"
                    job["error"] = {"code": "invalid_training_file", "message": "line 3 is not valid JSON",
                                    "param": "training_file"}
                if job["status"] == "succeeded":
                    job["fine_tuned_model"] = f"ft:{job['model']}:acme:{job['suffix']}:{job_id[-6:]}"
                    job["trained_tokens"] = self.billed(job)
                    job["finished_at"] = int(time.time())
            return dict(job)


    def billed(self, job: dict[str, Any]) -> int:
        """What the emulated API bills: one token per whitespace-separated word × epochs."""
        epochs = job["hyperparameters"].get("n_epochs")
        return len(self.files[job["training_file"]]["content"].split()) * (epochs if isinstance(epochs, int) else 1)


def _handler(emu: Emulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # quiet
            pass

        def _send(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length", 0)))

        def _record(self) -> None:
            emu.requests.append((self.command, self.path, self.headers.get("Authorization", "")))

        def do_POST(self) -> None:  # noqa: N802
            self._record()
            body = self._body()
            if self.path == "/v1/files":
                ctype = self.headers["Content-Type"]
                msg = BytesParser(policy=email_policy).parsebytes(
                    b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + body)
                fields = {p.get_param("name", header="content-disposition"): p for p in msg.iter_parts()}
                content = fields["file"].get_payload(decode=True)
                file_id = f"file-{len(emu.files) + 1}"
                emu.files[file_id] = {"id": file_id, "object": "file", "bytes": len(content),
                                      "created_at": int(time.time()), "status": "processed",
                                      "filename": fields["file"].get_filename(),
                                      "purpose": fields["purpose"].get_payload(decode=True).decode(),
                                      "content": content.decode()}
                self._send(200, {k: v for k, v in emu.files[file_id].items() if k != "content"})
            elif self.path == "/v1/fine_tuning/jobs":
                req = json.loads(body)
                if req["training_file"] not in emu.files:
                    self._send(400, {"error": {"message": "no such file", "type": "invalid_request_error"}})
                    return
                job_id = f"ftjob-{len(emu.jobs) + 1:06d}"
                emu.jobs[job_id] = {
                    "id": job_id, "object": "fine_tuning.job", "model": req["model"],
                    "created_at": int(time.time()), "status": "validating_files", "suffix": req.get("suffix"),
                    "training_file": req["training_file"], "validation_file": req.get("validation_file"),
                    "hyperparameters": req.get("hyperparameters") or {"n_epochs": "auto"},
                    "fine_tuned_model": None, "finished_at": None, "error": None,
                    "organization_id": "org-acme", "result_files": [], "seed": 1, "trained_tokens": None}
                self._send(200, emu.jobs[job_id])
            elif self.path == "/v1/chat/completions":
                req = json.loads(body)
                emu.chat_requests.append(req)
                message = {"role": "assistant", "content": None, **emu.chat(req)}
                self._send(200, {"id": "chatcmpl-1", "object": "chat.completion", "created": 0,
                                 "model": req["model"], "choices": [
                                     {"index": 0, "message": message, "finish_reason": "stop"}]})
            else:
                self._send(404, {"error": {"message": "not found"}})

        def do_GET(self) -> None:  # noqa: N802
            self._record()
            path = self.path.split("?")[0]
            if path == "/v1/fine_tuning/jobs":
                data = sorted(emu.jobs.values(), key=lambda j: j["id"], reverse=True)
                self._send(200, {"object": "list", "data": data, "has_more": False})
            elif path.startswith("/v1/fine_tuning/jobs/") and path.rsplit("/", 1)[1] in emu.jobs:
                self._send(200, emu.job(path.rsplit("/", 1)[1]))
            else:
                self._send(404, {"error": {"message": "not found", "type": "invalid_request_error"}})

    return Handler


@contextmanager
def running() -> Iterator[tuple[Emulator, str]]:
    emu = Emulator()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(emu))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield emu, f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()
