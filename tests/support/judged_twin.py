"""A judge in front of the twin for callers the tests do not hold in-process (`invoke cp-*`,
`cloud-up`, the original's Go program, the SDK client): a small HTTP proxy that passes every
call to the twin and checks every answer against the published document on its way back,
undeclared properties included. The failures are collected; a test asserts there are none."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

from devkit.controlplane_twin.app import INJECTED_HEADER
from tests.support.openapi import published_document

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "date", "server"}


@dataclass
class JudgedTwin:
    url: str
    failures: list[str] = field(default_factory=list)
    judged: int = 0


@contextmanager
def judged_twin(twin_url: str) -> Iterator[JudgedTwin]:
    """The proxy on a free port of 127.0.0.1, for as long as the block runs."""
    document = published_document()
    lock = threading.Lock()
    upstream = httpx.Client(base_url=twin_url, timeout=120)

    class Judge(BaseHTTPRequestHandler):
        def _forward(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
            answer = upstream.request(self.command, self.path, content=body, headers=headers)
            path = self.path.split("?")[0]
            if path.startswith("/api/") and INJECTED_HEADER not in answer.headers:
                with lock:
                    try:
                        document.check(self.command, path.removeprefix("/api"), answer)
                        judged.judged += 1
                    except AssertionError as failure:
                        judged.failures.append(str(failure))
            self.send_response(answer.status_code)
            for key, value in answer.headers.items():
                if key.lower() not in _HOP_BY_HOP:
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(answer.content)))
            self.end_headers()
            # the caller may have given up (an interrupted cloud-up): the answer was still judged
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(answer.content)

        do_GET = do_POST = do_DELETE = do_PATCH = _forward  # http.server's names

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the test reads the failures, not an access log."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Judge)
    judged = JudgedTwin(url=f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield judged
    finally:
        server.shutdown()
        server.server_close()
        upstream.close()
