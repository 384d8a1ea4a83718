"""The JetStream tiers the twin offers: what the server behind it can hold, as Synadia Cloud's
`jetstream_tiers` says what a system can. R1 always; R3 too when JetStream runs as a cluster of at
least three servers (STACK_NATS_NODES=3), since an R3 stream needs three peers.

The answer is the cluster's shape, read from the server's JSZ report (`meta_cluster.cluster_size`,
absent on a single server): measured on nats-server 2.15.1, it stays 3 with one node and with two
nodes of three down, and is 3 on a fresh cluster the moment its first server answers; a single
server reports no `meta_cluster` at all. Its health is not the tier: a node that is down makes an
R3 create fail on the server (its own refusal), not disappear from what the system offers.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Final

from devkit.auth.jwt import Claims
from devkit.controlplane_twin.server_side import ServerAnswer, ServerSideError

R1: Final = "R1"
R3: Final = "R3"
R3_PEERS: Final = 3
"""Servers an R3 stream needs: one per replica."""
TIERS_TTL_S: Final = 60.0
"""How long an answer is kept. The shape changes only when the stack is rebuilt (`invoke up` with
another STACK_NATS_NODES restarts the twin too); the report is asked again now and then all the
same, so a twin left running across a change is wrong for a minute at most."""


def offered(report: ServerAnswer) -> tuple[str, ...]:
    """From the server's JSZ report: R1, and R3 where its JetStream cluster has 3 peers."""
    meta = report.get("meta_cluster") or {}
    size = int(meta.get("cluster_size") or 1)
    return (R1, R3) if size >= R3_PEERS else (R1,)


def tier_of(replicas: int) -> str:
    return f"R{replicas}"


def _offer(tiers: Sequence[str]) -> str:
    return " and ".join(tiers) + " only"


def _why(tiers: Sequence[str]) -> str:
    if R3 in tiers:
        return ""
    return (
        ": one nats-server holds one replica (`invoke up` with STACK_NATS_NODES=3 runs the"
        " three-node cluster that offers R3)"
    )


def replicas_refusal(what: str, replicas: object, tiers: Sequence[str]) -> str | None:
    """The 400's message for a stream or bucket of a number of replicas the system has no tier
    for; None when it has one (or when the number is not one: the server refuses that itself)."""
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 1:
        return None
    if tier_of(replicas) in tiers:
        return None
    return (
        f"num_replicas: this system offers {_offer(tiers)}: a {what} of {replicas} replicas"
        f" needs the {tier_of(replicas)} tier{_why(tiers)}"
    )


def limits_refusal(limits: Claims, tiers: Sequence[str]) -> str | None:
    """The 400's message for account limits naming a tier the system does not offer."""
    asked = sorted((limits.get("tiered_limits") or {}).keys())
    missing = [tier for tier in asked if tier not in tiers]
    if not missing:
        return None
    return (
        f"jwt_settings.limits.tiered_limits: this system offers {_offer(tiers)}: no"
        f" {', '.join(missing)} tier for an account{_why(tiers)}"
    )


@dataclass
class TierCache:
    """The tiers, asked of the server when first needed and again after TIERS_TTL_S. A server that
    does not answer leaves the last answer standing (the shape outlives an outage); with no answer
    yet, the caller's ServerSideError stands."""

    report: Callable[[], Awaitable[ServerAnswer]]
    clock: Callable[[], float] = time.monotonic
    _tiers: tuple[str, ...] | None = field(default=None, init=False)
    _asked_at: float = field(default=0.0, init=False)

    async def tiers(self) -> tuple[str, ...]:
        if self._tiers is not None and self.clock() - self._asked_at < TIERS_TTL_S:
            return self._tiers
        try:
            found = offered(await self.report())
        except ServerSideError:
            if self._tiers is None:
                raise
            return self._tiers
        self._tiers, self._asked_at = found, self.clock()
        return found
