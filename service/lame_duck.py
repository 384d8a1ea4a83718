"""Moving a connection's work off a server that announced lame-duck mode, losing nothing.

A server in lame-duck mode (an upgrade, `nats-server --signal ldm`) hands its Raft leaderships
over, sends its clients an INFO with `ldm`, and after its grace period (10 s by default) closes
their connections: whatever was in flight on one then (a request delivered, a reply or an ack
on its way back) is lost, and nats-py's reconnect only resubscribes afterwards. On the notice,
the owner of the connection opens another to the rest of the cluster, moves its work there
(what it serves is subscribed on both for a moment, never on neither), lets the work in flight
on the old one finish, and drains it: one `nats.lame_duck` line says what moved.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from urllib.parse import urlsplit

from nats.errors import Error as NatsError

from service.connection import ConnectError, LatePongClient

log = logging.getLogger(__name__)


def address_of(url: str) -> str:
    """`host:port` of a server URL (a bare `host:port` too), to compare a list with a server."""
    return urlsplit(url if "//" in url else f"nats://{url}").netloc


def successor_servers(servers: Sequence[str], leaving: str | None) -> list[str]:
    """The servers a successor connection may use: every one but the server `leaving`
    (`host:port`); the whole list when that leaves none (one server: nats-py's reconnect is all
    there is)."""
    others = [url for url in servers if address_of(url) != leaving]
    return others or list(servers)


class LameDuckNotice:
    """What the server's lame-duck INFO said, as something to wait for: `received` is the
    `lame_duck_mode_cb` connect option.

    nats-py awaits the callback inside its read loop, so it only records the notice; the owner
    acts on it in its own task."""

    def __init__(self) -> None:
        self._noticed = asyncio.Event()

    async def received(self) -> None:
        self._noticed.set()

    @property
    def noticed(self) -> bool:
        return self._noticed.is_set()

    async def wait(self) -> None:
        await self._noticed.wait()


def connected_address(nc: LatePongClient) -> str | None:
    url = nc.connected_url
    return None if url is None else url.netloc


async def hand_over(
    old: LatePongClient,
    *,
    connect_elsewhere: Callable[[str | None], Awaitable[LatePongClient]],
    move: Callable[[LatePongClient], Awaitable[None]],
    settle: Callable[[], Awaitable[None]],
    who: str,
) -> LatePongClient:
    """The successor of `old`, with the work moved onto it and `old` drained.

    `connect_elsewhere(leaving)` connects to the other servers; `move(new)` starts the owner's
    work on `new` and stops taking new work on `old`; `settle()` returns once the work in flight
    on `old` is done. When no other server can be reached, `old` stays (nats-py reconnects it
    once the server closes it)."""
    began = time.monotonic()
    leaving = connected_address(old)
    try:
        new = await connect_elsewhere(leaving)
    except (ConnectError, NatsError, OSError, TimeoutError) as error:
        log.warning(
            "nats.lame_duck",
            extra={"connection": who, "from": leaving, "moved": False, "error": str(error)},
        )
        return old
    await move(new)
    await settle()
    try:
        await old.drain()  # what is buffered reaches the server; the rest of its subscriptions end
    except NatsError as error:  # closed by the server meanwhile: nothing of ours is left on it
        log.debug("nats.lame_duck_drain", extra={"connection": who, "error": str(error)})
    log.info(
        "nats.lame_duck",
        extra={
            "connection": who,
            "from": leaving,
            "to": connected_address(new),
            "moved": True,
            "took_s": round(time.monotonic() - began, 3),
        },
    )
    return new
