"""The stream's leadership through a fault: stream info asked for at a fixed interval, each
answer (or its absence) kept with its time, so a test can say how long the stream had no leader
and when every replica was current again.

Only the stream's leader answers stream info on a cluster, so an answer names a leader that was
serving when it answered; no answer within the interval counts as no leader.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from nats.errors import Error as NatsError

from service import names
from service.connection import open_connection
from service.credentials import inbox_prefix_of

INTERVAL_S = 0.1
ANSWER_S = 1.0
"""How long one question waits for its answer."""


@dataclass(frozen=True)
class Sighting:
    at_s: float
    """When the answer came, or when the question that got none was asked, in seconds on the
    watcher's clock."""
    leader: str | None
    """None: no answer, or an answer that named no leader."""
    followers: tuple[str, ...] = ()
    current: tuple[str, ...] = ()
    """The followers the leader reports current and online."""

    @property
    def all_current(self) -> bool:
        return self.leader is not None and bool(self.followers) and self.current == self.followers


def new_leader_at(sightings: Sequence[Sighting], fault_s: float, old: str) -> Sighting | None:
    """The first sighting after the fault naming a leader other than `old`, or `old` again once
    a sighting in between named none (a killed leader restarted before the others' election
    timeout can win the next election: its log is the longest): the end of the leaderless
    window."""
    leaderless = False
    for sighting in sightings:
        if sighting.at_s < fault_s:
            continue
        if sighting.leader is None:
            leaderless = True
        elif sighting.leader != old or leaderless:
            return sighting
    return None


def leader_back_at(sightings: Sequence[Sighting], fault_s: float) -> Sighting | None:
    """The first sighting after the fault that names any leader."""
    return next((s for s in sightings if s.at_s >= fault_s and s.leader is not None), None)


def leaderless_after(sightings: Sequence[Sighting], after_s: float) -> list[tuple[float, float]]:
    """Every stretch after `after_s` in which questions went unanswered or named no leader: from
    the last sighting of a leader before it to the first after it (the stream may have lost
    its leader at any moment between). One still open at the end ends at the last sighting."""
    windows: list[tuple[float, float]] = []
    last_led = after_s
    opened: float | None = None
    for sighting in sightings:
        if sighting.at_s < after_s:
            continue
        if sighting.leader is None:
            opened = last_led if opened is None else opened
        else:
            if opened is not None:
                windows.append((opened, sighting.at_s))
                opened = None
            last_led = sighting.at_s
    if opened is not None and sightings:
        windows.append((opened, sightings[-1].at_s))
    return windows


def leader_changes(sightings: Sequence[Sighting]) -> list[tuple[float, str | None]]:
    """(when, leader) each time the answer changed: the story of a fault in a few entries."""
    changes: list[tuple[float, str | None]] = []
    for sighting in sightings:
        if not changes or changes[-1][1] != sighting.leader:
            changes.append((round(sighting.at_s, 2), sighting.leader))
    return changes


def all_current_at(sightings: Sequence[Sighting], after_s: float) -> Sighting | None:
    """The first sighting at or after `after_s` with every follower current and online."""
    return next((s for s in sightings if s.at_s >= after_s and s.all_current), None)


async def watch_stream(
    servers: str,
    creds: Path,
    duration_s: float,
    *,
    stream: str = names.STREAM_NAME,
    interval_s: float = INTERVAL_S,
) -> list[Sighting]:
    """Stream info every `interval_s` for `duration_s`, from a connection that fails over
    between `servers` (comma-separated) as the service's does."""

    async def quietly(error: Exception) -> None:  # reconnect attempts during a fault, expected
        pass

    began = time.monotonic()
    nc = await open_connection(
        servers=[servers],
        error_cb=quietly,
        user_credentials=str(creds),
        inbox_prefix=inbox_prefix_of(creds) or names.INBOX_PREFIX,
        name="customer-chaos-leaders",
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.1,
        connect_timeout=1,
    )
    js = nc.jetstream(timeout=ANSWER_S)
    sightings: list[Sighting] = []

    async def ask() -> None:
        asked = time.monotonic() - began
        try:
            info = await js.stream_info(stream)
        except (NatsError, TimeoutError, OSError):
            sightings.append(Sighting(asked, None))  # no leader when asked
            return
        cluster = info.cluster
        peers = (cluster.replicas or []) if cluster else []
        sightings.append(
            Sighting(
                time.monotonic() - began,
                (cluster.leader or None) if cluster else None,
                tuple(sorted(p.name or "" for p in peers)),
                tuple(sorted(p.name or "" for p in peers if p.current and not p.offline)),
            )
        )

    asking: list[asyncio.Task[None]] = []
    try:
        # One question every interval whatever the answers do: a question left unanswered
        # while there is no leader does not delay the one that sees the new leader. At least
        # one, however long connecting took (the clock starts before it, as the load's does).
        while (now := time.monotonic() - began) < duration_s or not asking:
            asking.append(asyncio.create_task(ask()))
            await asyncio.sleep(max(0.0, began + now + interval_s - time.monotonic()))
        await asyncio.gather(*asking)
    finally:
        await nc.close()
    return sorted(sightings, key=lambda s: s.at_s)
