"""Open-loop load with a timeline: requests leave at a fixed rate whatever the replies do (as
real callers arrive), and each one's send time, latency and outcome is kept, so a test can
say what callers saw before, during and after a fault."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from nats.errors import Error as NatsError

from devkit.caller import TIMEOUT, Outcome, ask_outcome
from service import names
from service.connection import LatePongClient, open_connection, server_list
from service.credentials import inbox_prefix_of
from service.lame_duck import LameDuckNotice, connected_address, hand_over, successor_servers
from service.protocol import Reply, encode_request

DISCONNECTED = "disconnected"
"""The caller's own connection was down: the request never left."""


@dataclass(frozen=True)
class Shot:
    sent_s: float
    """Seconds from the start of the load."""
    latency_s: float
    client_id: str
    outcome: Outcome

    @property
    def ok(self) -> bool:
        return isinstance(self.outcome, Reply) and self.outcome.ok

    @property
    def code(self) -> int | str:
        """200 for an answer, the error code, or `timeout` / `no_responders`."""
        if isinstance(self.outcome, Reply):
            return 200 if self.outcome.ok else (self.outcome.error_code or 0)
        return self.outcome

    @property
    def kind(self) -> str:
        """The code with the service's message: which refusal it was (a server's no-responders
        status and a timeout have no message)."""
        if isinstance(self.outcome, Reply) and not self.outcome.ok:
            return f"{self.code} {self.outcome.error_message}"
        return str(self.code)


@dataclass(frozen=True)
class Timeline:
    shots: tuple[Shot, ...]
    marks: dict[str, float] = field(default_factory=dict)
    """When each scheduled fault action ran, in seconds from the start."""
    servers: dict[str, str] = field(default_factory=dict)
    """The server (host:port) the caller was connected to when each scheduled action ran."""

    def between(self, start_s: float, end_s: float) -> list[Shot]:
        return [s for s in self.shots if start_s <= s.sent_s < end_s]

    def codes(self, shots: Sequence[Shot] | None = None) -> dict[int | str, int]:
        counted: dict[int | str, int] = {}
        for shot in self.shots if shots is None else shots:
            counted[shot.code] = counted.get(shot.code, 0) + 1
        return counted

    def kinds(self, shots: Sequence[Shot]) -> dict[str, int]:
        counted: dict[str, int] = {}
        for shot in shots:
            counted[shot.kind] = counted.get(shot.kind, 0) + 1
        return counted

    @property
    def timeouts(self) -> int:
        return sum(1 for s in self.shots if s.outcome == TIMEOUT)

    def first_ok_after(self, moment_s: float) -> Shot | None:
        return next((s for s in self.shots if s.sent_s >= moment_s and s.ok), None)

    def latency_percentile(self, fraction: float) -> float:
        ordered = sorted(s.latency_s for s in self.shots)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0


Action = Callable[[], None]


@dataclass
class Line:
    """One connection of the load, and the requests in flight on it."""

    nc: LatePongClient
    notice: LameDuckNotice
    asking: set[asyncio.Task[None]] = field(default_factory=set)

    async def settled(self) -> None:
        """Returns once every request sent on this connection has its outcome."""
        if self.asking:
            await asyncio.wait(set(self.asking))


async def open_loop(
    url: str,
    creds: Path | None,
    *,
    rate: float,
    duration_s: float,
    ids: Sequence[str],
    timeout_s: float = 5.0,
    schedule: Sequence[tuple[float, str, Action]] = (),
    randomize: bool = True,
) -> Timeline:
    """`rate` requests a second for `duration_s`, each waiting at most `timeout_s`, from a
    caller that reconnects as real callers do and moves off a server in lame-duck mode
    (service.lame_duck); `schedule` runs (seconds, name, action) on the load's own clock
    (actions block: they run in a thread). Without `randomize`, the servers of `url` are
    tried in order."""

    async def quietly(error: Exception) -> None:  # reconnect attempts during a fault, expected
        pass

    async def connect(servers: str) -> Line:
        notice = LameDuckNotice()
        nc = await open_connection(
            servers=[servers],
            error_cb=quietly,
            user_credentials=None if creds is None else str(creds),
            inbox_prefix=inbox_prefix_of(creds) or names.INBOX_PREFIX,
            name="customer-chaos-load",
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.1,
            dont_randomize=not randomize,
            lame_duck_mode_cb=notice.received,
        )
        opened.append(Line(nc, notice))
        return opened[-1]

    opened: list[Line] = []
    line = await connect(url)
    shots: list[Shot] = []
    marks: dict[str, float] = {}
    servers: dict[str, str] = {}
    cycle = itertools.cycle(ids)
    began = time.monotonic()

    async def one(client_id: str, sent_s: float) -> None:
        on = line
        asking = asyncio.current_task()
        assert asking is not None
        on.asking.add(asking)
        try:
            outcome = await ask_outcome(on.nc, encode_request(client_id), timeout_s=timeout_s)
        except NatsError:
            outcome = DISCONNECTED
        finally:
            on.asking.discard(asking)
        shots.append(Shot(sent_s, time.monotonic() - began - sent_s, client_id, outcome))

    async def connect_elsewhere(leaving: str | None) -> LatePongClient:
        return (await connect(",".join(successor_servers(server_list(url), leaving)))).nc

    async def move(new: LatePongClient) -> None:
        nonlocal line
        line = next(each for each in opened if each.nc is new)

    async def follow() -> None:
        """Each lame-duck notice: new requests on a new connection, the old one drained once
        its requests have their outcomes (their replies come back to it)."""
        while True:
            await line.notice.wait()
            old = line
            moved = await hand_over(
                old.nc,
                connect_elsewhere=connect_elsewhere,
                move=move,
                settle=old.settled,
                who="customer-chaos-load",
            )
            if moved is old.nc:  # nowhere else to go: nats-py reconnects once it is closed
                return

    async def act(at_s: float, name: str, action: Action) -> None:
        await asyncio.sleep(max(0.0, began + at_s - time.monotonic()))
        marks[name] = time.monotonic() - began
        servers[name] = connected_address(line.nc) or ""
        await asyncio.to_thread(action)

    actions = [asyncio.create_task(act(*step)) for step in schedule]
    following = asyncio.create_task(follow())
    tasks = []
    try:
        for n in range(max(1, int(rate * duration_s))):
            await asyncio.sleep(max(0.0, began + n / rate - time.monotonic()))
            tasks.append(asyncio.create_task(one(next(cycle), time.monotonic() - began)))
        await asyncio.gather(*tasks, *actions)
    finally:
        following.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await following
        for each in opened:  # a handover cut short leaves its old one open
            if not each.nc.is_closed:
                await each.nc.close()
    return Timeline(tuple(sorted(shots, key=lambda s: s.sent_s)), marks, servers)
