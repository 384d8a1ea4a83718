"""`invoke status` tells a nats slow to answer its health endpoint from one not serving."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from devkit.stack import state
from devkit.stack.report import ComponentStatus, StackStatus
from devkit.stack.state import SLOW


class _SlowHealth(BaseHTTPRequestHandler):
    delay_s = 0.0

    def do_GET(self) -> None:
        time.sleep(self.delay_s)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def health_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SlowHealth)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/healthz"
    server.shutdown()


def test_a_health_endpoint_past_the_limit_is_slow_not_down(
    health_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_SlowHealth, "delay_s", state.HEALTH_LIMIT_S + 0.5)
    problem = state._nats_health(health_url)
    assert problem is not None
    assert problem.startswith(f"{SLOW}: {health_url} took 1.")
    monkeypatch.setattr(_SlowHealth, "delay_s", 0.0)
    assert state._nats_health(health_url) is None
    assert state._nats_health("http://127.0.0.1:9/healthz") == (
        "http://127.0.0.1:9/healthz does not answer OK"
    )


def status_with(problem: str) -> StackStatus:
    nats = ComponentStatus(
        name="nats", pid=1, address=None, running=True, healthy=False, log=None, problem=problem
    )
    return StackStatus(
        mode="native",
        nats_url="nats://x",
        dynamodb_endpoint="http://y",
        table="t",
        account="a",
        creds={},
        components=[nats],
    )


def test_the_degraded_line_says_slow_or_not_serving() -> None:
    slow = status_with(f"{SLOW}: http://m/healthz took 1.90 s (over 1 s)")
    assert slow.problems() == [f"nats {SLOW}: http://m/healthz took 1.90 s (over 1 s)"]
    down = status_with("http://m/healthz does not answer OK")
    assert down.problems() == ["nats running but not serving (http://m/healthz does not answer OK)"]
    assert "orphans" not in down.document()
