"""When the stack is ready: a real balance request answered, and every replica's heartbeat fresh."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from pathlib import Path
from typing import Any

from nats.aio.client import Client
from nats.errors import Error as NatsError

from devkit.auth.security import local_account_key
from devkit.caller import CallError, connect_client, request_balance
from devkit.stack.config import NatsNode, StackConfig, StackError
from devkit.stack.processes import http_ok, tail
from devkit.stack.state import StackState
from service.protocol import Reply

READY_TIMEOUT_S = 90.0
CLUSTER_TIMEOUT_S = 60.0
HEALTHY_TIMEOUT_S = 30.0


ANSWER_RETRY_S = 0.05
"""Between two requests while no replica answers yet: "no responders" comes back at once, and a
request on the one open connection costs a round trip on loopback, so the wait ends within this
of the replica subscribing (issue #27)."""


async def wait_until_answering(config: StackConfig, state: StackState) -> Reply:
    """Ready means a real balance request was answered, not merely that processes exist."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    last_problem = "no reply yet"
    nc: Client | None = None
    try:
        while time.monotonic() < deadline:
            for replica in state.replicas():
                if not replica.running():
                    raise StackError(
                        f"{replica.name} exited during start-up; see {replica.log}:\n"
                        + tail(Path(replica.log), 15)
                    )
            try:
                if nc is None or nc.is_closed:
                    nc = await connect_client(
                        config.nats_url, name="customer-caller", creds=config.client_creds
                    )
                reply = await request_balance(nc, "1", timeout_s=2.0)
            except (CallError, NatsError, OSError, TimeoutError) as error:
                last_problem = str(error) or type(error).__name__
            else:
                if reply.ok:
                    return reply
                last_problem = reply.describe()
            await asyncio.sleep(ANSWER_RETRY_S)
    finally:
        if nc is not None:
            await nc.close()
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
    leaders after its meta leader, and a bootstrap before that times out. And the meta leader
    sees every other node current: a leader elected by two nodes places an R3 stream only once
    it has heard from the third (before, 10005 "no suitable peers for placement")."""
    deadline = time.monotonic() + timeout_s
    waiting = [*config.nats_nodes_list]
    whole = False
    while time.monotonic() < deadline:
        waiting = [n for n in waiting if not _node_ready(n.monitor_url)]
        whole = not waiting and _meta_group_whole(config)
        if whole:
            return
        time.sleep(0.2)
    raise StackError(
        f"the NATS cluster was not healthy within {timeout_s:g} s:"
        f" {', '.join(n.name for n in waiting) or 'the meta leader does not see every node'}"
        " (see `invoke logs -c nats`)"
    )


def _meta_group_whole(config: StackConfig) -> bool:
    for node in config.nats_nodes_list:
        jsz = _jsz(node.monitor_url)
        if jsz is not None and leads_every_node(jsz, node.name, config.nats_nodes):
            return True
    return False


def leads_every_node(jsz: dict[str, Any], name: str, nodes: int) -> bool:
    """Whether the node `name`'s `/jsz` says it is the meta leader of a group of `nodes`, every
    other node current (only the leader tracks the others: a follower sees its peers behind)."""
    meta = jsz.get("meta_cluster") or {}
    peers = meta.get("replicas") or []
    return (
        meta.get("leader") == name
        and meta.get("cluster_size") == nodes
        and len(peers) == nodes - 1
        and all(p.get("current") and not p.get("offline") for p in peers)
    )


def _node_ready(monitor_url: str) -> bool:
    if not http_ok(f"{monitor_url}/healthz", timeout_s=2.0):
        return False
    jsz = _jsz(monitor_url)
    return jsz is not None and unled_streams(jsz) == []


def _jsz(monitor_url: str) -> dict[str, Any] | None:
    """A node's JetStream report with its accounts and streams; None when it does not answer."""
    try:
        with urllib.request.urlopen(  # noqa: S310 - the node's monitor port on loopback
            f"{monitor_url}/jsz?accounts=true&streams=true", timeout=2.0
        ) as answer:
            jsz: dict[str, Any] = json.loads(answer.read())
    except (OSError, ValueError):
        return None
    return jsz


async def wait_for_account_jetstream(
    config: StackConfig, timeout_s: float = CLUSTER_TIMEOUT_S
) -> None:
    """Every node of the cluster has the application account's JetStream enabled.

    A node loads an account of the resolver only when something there asks for it, and enables
    its JetStream then. An R3 stream's create reaches all three nodes at once, and a node that
    had not loaded the account yet refuses its replica with 10039 "JetStream not enabled for
    account", which fails the whole create. So each node is made to load it (a client of the
    account connects to that node, as the service's will), and is asked (`/jsz`) until it
    reports the account's JetStream: what every client, the bootstrap first, then meets."""
    account = local_account_key(config.root)
    if account is None:
        raise StackError(f"no application account under {config.root / 'security'}")
    deadline = time.monotonic() + timeout_s
    waiting = list(config.nats_nodes_list)
    while waiting and time.monotonic() < deadline:
        waiting = [n for n in waiting if not await _account_loaded(config, n, account)]
        if waiting:
            await asyncio.sleep(0.2)
    if waiting:
        raise StackError(
            f"the application account's JetStream was not enabled within {timeout_s:g} s on"
            f" {', '.join(n.name for n in waiting)} (see `invoke logs -c nats`)"
        )


async def _account_loaded(config: StackConfig, node: NatsNode, account: str) -> bool:
    """Whether `node` reports `account`'s JetStream, after a client of it connected there."""
    try:
        client = await connect_client(
            node.url, name="stack-readiness", creds=config.client_creds, connect_timeout_s=2.0
        )
    except CallError:
        return False
    try:
        jsz = await asyncio.to_thread(_jsz, node.monitor_url)
    finally:
        await client.close()
    return jsz is not None and account in jetstream_accounts(jsz)


def jetstream_accounts(jsz: dict[str, Any]) -> list[str]:
    """The accounts (public keys) whose JetStream a node's `/jsz?accounts=true` reports."""
    return [account["id"] for account in jsz.get("account_details") or [] if "id" in account]


def unled_streams(jsz: dict[str, Any]) -> list[str]:
    """Streams a node's `/jsz?accounts=true&streams=true` lists without a leader."""
    return [
        stream.get("name", "?")
        for account in jsz.get("account_details") or []
        for stream in account.get("stream_detail") or []
        if not (stream.get("cluster") or {}).get("leader")
    ]
