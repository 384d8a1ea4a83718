"""When the stack is ready: a real balance request answered, and every replica's heartbeat fresh."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from pathlib import Path
from typing import Any

from devkit.caller import CallError, call_once
from devkit.stack.config import StackConfig, StackError
from devkit.stack.processes import http_ok, tail
from devkit.stack.state import StackState
from service.protocol import Reply

READY_TIMEOUT_S = 90.0
CLUSTER_TIMEOUT_S = 60.0
HEALTHY_TIMEOUT_S = 30.0


async def wait_until_answering(config: StackConfig, state: StackState) -> Reply:
    """Ready means a real balance request was answered, not merely that processes exist."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    last_problem = "no reply yet"
    while time.monotonic() < deadline:
        for replica in state.replicas():
            if not replica.running():
                raise StackError(
                    f"{replica.name} exited during start-up; see {replica.log}:\n"
                    + tail(Path(replica.log), 15)
                )
        try:
            reply = await call_once(config.nats_url, "1", creds=config.client_creds, timeout_s=2.0)
        except (CallError, OSError, TimeoutError) as error:
            last_problem = str(error)
        else:
            if reply.ok:
                return reply
            last_problem = reply.describe()
        await asyncio.sleep(0.25)
    raise StackError(f"the service did not answer within {READY_TIMEOUT_S:g} s: {last_problem}")


def wait_until_healthy(state: StackState, timeout_s: float = HEALTHY_TIMEOUT_S) -> None:
    """Every replica writes its first heartbeat moments after it starts serving."""
    deadline = time.monotonic() + timeout_s
    sick = [r.name for r in state.replicas()]
    while time.monotonic() < deadline:
        sick = [r.name for r in state.replicas() if not r.healthy()]
        if not sick:
            return
        time.sleep(0.1)
    raise StackError(f"not healthy after {timeout_s:g} s: {', '.join(sick)}; see `invoke logs`")


def wait_for_cluster(config: StackConfig, timeout_s: float = CLUSTER_TIMEOUT_S) -> None:
    """Every node of the cluster healthy (routed, a JetStream meta leader elected) and every
    stream it holds led: a cluster restarted from its data elects the stream's and the bucket's
    leaders after its meta leader, and a bootstrap before that times out."""
    deadline = time.monotonic() + timeout_s
    waiting = config.nats_nodes_list
    while time.monotonic() < deadline:
        waiting = [n for n in waiting if not _node_ready(n.monitor_url)]
        if not waiting:
            return
        time.sleep(0.2)
    raise StackError(
        f"the NATS cluster was not healthy within {timeout_s:g} s:"
        f" {', '.join(n.name for n in waiting)} (see `invoke logs -c nats`)"
    )


def _node_ready(monitor_url: str) -> bool:
    if not http_ok(f"{monitor_url}/healthz", timeout_s=2.0):
        return False
    try:
        with urllib.request.urlopen(  # noqa: S310 - the node's monitor port on loopback
            f"{monitor_url}/jsz?accounts=true&streams=true", timeout=2.0
        ) as answer:
            jsz = json.loads(answer.read())
    except (OSError, ValueError):
        return False
    return unled_streams(jsz) == []


def unled_streams(jsz: dict[str, Any]) -> list[str]:
    """Streams a node's `/jsz?accounts=true&streams=true` lists without a leader."""
    return [
        stream.get("name", "?")
        for account in jsz.get("account_details") or []
        for stream in account.get("stream_detail") or []
        if not (stream.get("cluster") or {}).get("leader")
    ]
