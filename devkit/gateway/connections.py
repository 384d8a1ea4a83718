"""One NATS connection per user the gateway speaks for, replaced when it stops working.

A connection is shared by every caller of a token, so one that the server closed (a message
over its max payload, a revoked user) or whose nats-py read loop died must not keep failing
the callers that come after: the next call finds it broken and connects again.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Final

from nats.errors import Error as NatsError

from devkit.gateway.permissions import UserPermissions
from devkit.gateway.tokens import TokenHolder
from devkit.gateway.verdicts import Verdicts
from service.connection import ONE_PASS, LatePongClient, flush_in_order, open_connection

log = logging.getLogger(__name__)

PATIENT_FLUSH_S: Final = 60
"""A flush's own timeout: long, so nats-py never cancels its PONG waiter (a late PONG for a
cancelled waiter kills the read loop); callers wait with their own, shorter deadline."""


class ConnectionLostError(Exception):
    """The user's connection stopped working during a call; the next call gets a new one."""


def state_of(nc: LatePongClient) -> str:
    """What a caller would see: `connected` only when calls can be answered."""
    if nc.is_closed:
        return "closed"
    if nc.is_reconnecting or not nc.is_connected:
        return "reconnecting"
    if not nc.reading:
        return "read loop stopped"
    return "connected"


async def confirmed_flush(nc: LatePongClient) -> None:
    """The server has read everything sent before, and any -ERR for it has been read: the
    PONGs came through a live read loop. When the read loop dies (an exception in a callback
    it runs), the client still says "connected" and its flush returns at once without a PONG:
    a flush then proves nothing, and no reply or -ERR is ever read again."""
    if not nc.reading:
        raise ConnectionLostError
    await flush_in_order(nc, seconds=PATIENT_FLUSH_S)
    if not nc.reading:
        raise ConnectionLostError


@dataclass
class UserConnection:
    nc: LatePongClient
    verdicts: Verdicts
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    """Set when nats-py gives the connection up for good (the server closed it, or refused the
    user on reconnect) or the gateway replaces it: open event streams end with a `closed` event
    that gives `closed_reason`."""
    closed_reason: str = ""

    @property
    def usable(self) -> bool:
        return not self.closed.is_set() and state_of(self.nc) in ("connected", "reconnecting")


class UserConnections:
    """Connects a user on first use and keeps the connection (reconnecting) for later calls."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._open: dict[TokenHolder, UserConnection] = {}
        self._lock = asyncio.Lock()

    async def get(self, user: TokenHolder) -> UserConnection:
        found = self._open.get(user)
        if found is not None and found.usable:
            return found
        async with self._lock:
            found = self._open.get(user)
            if found is None or not found.usable:
                if found is not None:
                    log.warning("gateway.replacing %s: %s", user.user, state_of(found.nc))
                    del self._open[user]
                    await self._retire(found)
                found = self._open[user] = await self._connect(user)
            return found

    async def _connect(self, user: TokenHolder) -> UserConnection:
        permissions = UserPermissions.from_creds(user.creds)
        verdicts = Verdicts(permissions)
        closed = asyncio.Event()

        async def on_closed() -> None:
            current = self._open.get(user)
            if current is not None and current.closed is closed:
                detail = str(current.nc.last_error or "closed").removeprefix("nats: ")
                current.closed_reason = f"the server closed the user's connection ({detail})"
                del self._open[user]  # the next call connects anew; health no longer lists it
            closed.set()

        prefix = permissions.inbox_prefix()
        nc = await open_connection(
            servers=[self._url],
            **ONE_PASS,  # a caller waits: fail in seconds, not after 61 tries
            name=f"http-gateway-{user.user}",
            user_credentials=str(user.creds),
            error_cb=verdicts.on_error,
            closed_cb=on_closed,
            connect_timeout=2,
            reconnect_time_wait=1,
            **({"inbox_prefix": prefix} if prefix is not None else {}),
        )
        nc.options["allow_reconnect"] = True
        nc.options["max_reconnect_attempts"] = -1
        return UserConnection(nc, verdicts, closed)

    async def _retire(self, connection: UserConnection) -> None:
        if not connection.closed.is_set():
            connection.closed_reason = (
                f"the gateway replaced a broken connection ({state_of(connection.nc)})"
            )
        connection.closed.set()
        if not connection.nc.is_closed:
            try:
                await asyncio.wait_for(connection.nc.close(), 2)
            except (NatsError, OSError, TimeoutError) as error:
                log.warning("gateway.close_failed %s", type(error).__name__)

    def states(self) -> dict[str, str]:
        """Each user's connection as a caller would find it now; see state_of."""
        return {user.user: state_of(connection.nc) for user, connection in self._open.items()}

    async def close(self) -> None:
        retiring, self._open = list(self._open.values()), {}
        for connection in retiring:
            await self._retire(connection)
