"""Whether a NATS connection can still receive, proven by a round trip, and repaired when not.

nats-py reports a connection as connected for as long as its socket is open, even when its read
loop has died or the server stopped answering; its own stale-connection check takes
`ping_interval` x `max_outstanding_pings` (4 minutes by default). The watch asks the server for
a PONG every interval, which only a working read loop can deliver, and tells anyone who asks
(the heartbeat, the twin's connections) what is wrong; after SILENT_BEFORE_RECONNECT_S without
an answer, or as soon as the read loop is gone, it makes nats-py reconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Final

from nats.errors import ConnectionClosedError, FlushTimeoutError
from nats.errors import Error as NatsError

from service.connection import LatePongClient

log = logging.getLogger(__name__)

SILENT_BEFORE_RECONNECT_S: Final = 15.0
"""How long the server may answer no PING before the connection is dropped and made again. A
pause shorter than this heals on the same connection and loses nothing in flight (the late
PONG is harmless with LatePongClient); a link that stays silent longer (a dead path, a
half-open socket) is replaced. Callers have given up long before: they wait 5 s."""


class ConnectionWatch:
    """Probes `nc` every `interval_s`; `problem` is None while it receives."""

    def __init__(
        self,
        nc: LatePongClient,
        *,
        interval_s: float,
        name: str = "nats",
        reconnect_after_s: float = SILENT_BEFORE_RECONNECT_S,
    ) -> None:
        self._nc = nc
        self._interval_s = interval_s
        self._name = name
        self._reconnect_after_s = reconnect_after_s
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.problem: str | None = None
        self.last_answer = time.time()
        """time.time() of the last round trip the server answered."""
        self._quiet_since = self.last_answer
        """The last answer, or the last reconnect the watch forced: silence is counted from it."""

    def follow(self, nc: LatePongClient) -> None:
        """Watch `nc` instead: its owner moved to it, and the old one is about to close."""
        self._nc = nc

    async def probe(self) -> str | None:
        """One round: None when the server answered through the read loop, else what is wrong."""
        nc = self._nc
        if nc.is_closed:
            return "the NATS connection is closed"
        if nc.is_reconnecting or not nc.is_connected:
            return "reconnecting to NATS"
        if not nc.reading:
            await self._reconnect("the connection stopped reading")
            return "the NATS connection stopped reading; reconnecting"
        timeout_s = max(1, int(self._interval_s))
        try:
            # The outer bound: the PING itself may wait behind a socket that takes nothing.
            # asyncio.timeout, not wait_for, which on 3.11 can swallow the caller's cancel.
            async with asyncio.timeout(timeout_s + 1):
                await nc.flush(timeout=timeout_s)
        except (FlushTimeoutError, TimeoutError):
            silent_s = time.time() - self._quiet_since
            if silent_s >= self._reconnect_after_s:
                await self._reconnect(f"no PONG for {silent_s:.0f} s")
            return f"NATS did not answer a PING within {timeout_s} s"
        except (ConnectionClosedError, NatsError) as error:
            return f"NATS round trip failed: {error or type(error).__name__}"
        return None

    async def _reconnect(self, why: str) -> None:
        log.warning("nats.reconnecting", extra={"connection": self._name, "reason": why})
        self._quiet_since = time.time()
        await self._nc.reconnect()

    async def check(self) -> str | None:
        """Probe once and remember the outcome (`problem`, `last_answer`); a change is logged."""
        problem = await self.probe()
        if problem != self.problem:
            log.info(
                "nats.receiving" if problem is None else "nats.not_receiving",
                extra={"connection": self._name, "reason": problem},
            )
        self.problem = problem
        if problem is None:
            self.last_answer = self._quiet_since = time.time()
        return problem

    async def _watch(self) -> None:
        # A closed connection is over: nothing left to watch. `_stopping` as well as the cancel:
        # a wait_for inside nats-py's flush can swallow a cancel on 3.11 (service.health).
        while not self._nc.is_closed and not self._stopping:
            await self.check()
            await asyncio.sleep(self._interval_s)

    @property
    def done(self) -> bool:
        """The watch has ended (its connection closed, or it was stopped)."""
        return self._task is not None and self._task.done()

    def start(self) -> None:
        """Probe in the background until `stop` (for connections without a heartbeat)."""
        self._task = asyncio.create_task(self._watch())

    async def stop(self) -> None:
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
