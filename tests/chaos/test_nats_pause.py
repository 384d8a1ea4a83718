"""nats-server stopped (SIGSTOP) under open-loop load through a native stack of two replicas
and the HTTP gateway, as a VM pause, a long GC stall or a frozen host does: every replica and
the gateway answer again within seconds of the server coming back, nobody restarts anything,
and `invoke status` tells the truth meanwhile.

Before the repair (service.connection.LatePongClient, service.liveness), a 5 s pause silenced
both replicas for 300-354 s: a flush that timed out during the pause got its PONG afterwards,
nats-py's read loop died on the cancelled future, and the heartbeat kept saying `serving`."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from devkit import platform_names
from devkit.chaos.load import Timeline, open_loop
from service import names
from tests.chaos.conftest import report
from tests.support.commands import invoke, taken_port

pytestmark = pytest.mark.chaos

RATE = 100
IDS = [str(n) for n in range(1, 1001)]
RECOVERY_S = 10.0
"""Every replica and the gateway answer within this many seconds of the server's return."""


def _status(env: dict[str, str]) -> dict[str, object]:
    document: dict[str, object] = json.loads(invoke(env, "status", "--json").stdout)
    return document


def _pid(env: dict[str, str], component: str) -> int:
    components = _status(env)["components"]
    assert isinstance(components, list)
    (pid,) = [c["pid"] for c in components if c["name"] == component]
    return int(pid)


@dataclass
class Seen:
    """What the fault's actions measured, on the load's clock."""

    gateway_s: float = float("inf")
    replicas_healthy_s: float = float("inf")
    status_code: int | None = None
    status_says: str = ""


class Stack:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.root = Path(env["STACK_DIR"])
        self.nats_url = f"nats://{names.LOCAL_HOST}:{taken_port(env, 'STACK_NATS_PORT')}"
        self.gateway = f"http://{names.LOCAL_HOST}:{taken_port(env, 'STACK_GATEWAY_PORT')}"
        tokens = json.loads((self.root / "security" / "gateway-tokens.json").read_text())
        self.client_token: str = tokens[platform_names.CLIENT_USER]

    def creds(self, user: str) -> Path:
        return self.root / "creds" / f"{user}.creds"

    def over_http(self, client_id: str) -> int:
        try:
            answer = httpx.post(
                f"{self.gateway}/v1/nats/subjects/{names.REQUEST_SUBJECT}",
                content=json.dumps({"client_id": client_id}),
                headers={"Authorization": f"Bearer {self.client_token}"},
                timeout=2,
            )
        except httpx.HTTPError:
            return 0
        return answer.status_code

    def seconds_until(self, what: str, ready: Callable[[], bool], limit_s: float = 30) -> float:
        began = time.monotonic()
        while time.monotonic() - began < limit_s:
            if ready():
                return time.monotonic() - began
            time.sleep(0.1)
        raise AssertionError(f"{what}: not within {limit_s} s")

    def replicas_healthy(self) -> bool:
        components = _status(self.env)["components"]
        assert isinstance(components, list)
        replicas = [c for c in components if c["name"].startswith("balance-")]
        return len(replicas) == 2 and all(c["healthy"] for c in replicas)


def _load(stack: Stack, duration_s: float, schedule: list[tuple[float, str, object]]) -> Timeline:
    return asyncio.run(
        open_loop(
            stack.nats_url,
            stack.creds(platform_names.CLIENT_USER),
            rate=RATE,
            duration_s=duration_s,
            ids=IDS,
            schedule=schedule,  # type: ignore[arg-type]
        )
    )


@pytest.fixture
def stack(stack_env: dict[str, str]) -> Stack:
    up = invoke(stack_env, "up", "-r", "2")
    assert up.returncode == 0, up.stdout + up.stderr
    ready = Stack(stack_env)
    assert ready.over_http("678") == 200  # the gateway's connection for the client, opened
    return ready


@pytest.mark.parametrize("pause_s", [5, 30])
def test_nats_paused_under_load(stack: Stack, pause_s: int) -> None:
    nats_pid = _pid(stack.env, "nats")
    replica_pids = {_pid(stack.env, f"balance-{n}") for n in (1, 2)}
    gateway_pid = _pid(stack.env, "gateway")
    seen = Seen()

    def pause() -> None:
        os.kill(nats_pid, signal.SIGSTOP)
        if pause_s >= 20:  # long enough for the status to be read while paused
            time.sleep(8)
            during = invoke(stack.env, "status")
            seen.status_code = during.returncode
            seen.status_says = during.stderr.strip()

    def resume() -> None:
        os.kill(nats_pid, signal.SIGCONT)
        resumed = time.monotonic()
        seen.gateway_s = stack.seconds_until(
            "the gateway answers", lambda: stack.over_http("42") == 200
        )
        stack.seconds_until("both replicas healthy", stack.replicas_healthy)
        seen.replicas_healthy_s = time.monotonic() - resumed

    start_s, tail_s = 4.0, 15.0
    timeline = _load(
        stack,
        start_s + pause_s + tail_s,
        [(start_s, "paused", pause), (start_s + pause_s, "resumed", resume)],
    )
    resumed = timeline.marks["resumed"]
    first = timeline.first_ok_after(resumed)
    assert first is not None, timeline.codes()
    nats_s = first.sent_s + first.latency_s - resumed
    after = timeline.between(resumed + RECOVERY_S, resumed + tail_s)
    report(
        f"nats-paused-{pause_s}s",
        {
            "codes": timeline.codes(),
            "first_nats_answer_after_s": round(nats_s, 2),
            "gateway_answers_after_s": round(seen.gateway_s, 2),
            "replicas_healthy_after_s": round(seen.replicas_healthy_s, 2),
            "status_during": seen.status_says,
        },
    )
    assert nats_s < RECOVERY_S
    assert seen.gateway_s < RECOVERY_S
    assert seen.replicas_healthy_s < RECOVERY_S
    assert after
    assert all(s.ok for s in after), timeline.codes(after)
    # Nobody restarted anything: the same processes serve.
    assert {_pid(stack.env, f"balance-{n}") for n in (1, 2)} == replica_pids
    assert _pid(stack.env, "gateway") == gateway_pid
    if pause_s >= 20:
        assert seen.status_code == 1
        for replica in ("balance-1", "balance-2"):
            assert f"{replica} running but not serving" in seen.status_says
        assert (
            "NATS did not answer a PING" in seen.status_says
            or "reconnecting to NATS" in seen.status_says
        )
