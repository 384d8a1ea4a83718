"""The NATS connection: credentials from the environment, bounded first connect, endless reconnects."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, Final

from nats.aio.client import Client, RawCredentials
from nats.errors import NoServersError, StaleConnectionError
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from service import names
from service.credentials import (
    UserCredentials,
    decode_base64_credentials,
    read_credentials_file,
)
from service.operator_errors import OperatorError
from service.settings import Settings

log = logging.getLogger(__name__)


class ConnectError(OperatorError):
    """NATS could not be reached within the configured attempts."""


ONE_PASS: Final[Mapping[str, Any]] = {"allow_reconnect": False, "max_reconnect_attempts": 1}
"""nats.connect options for a first connect that gives up quickly instead of looping inside nats-py.

With its defaults, one `nats.connect` to an unreachable server tries 61 times,
`reconnect_time_wait` apart, even with `allow_reconnect=False` (docs/decisions.md, "First
connect"). nats-py counts the first try against `max_reconnect_attempts` and reads 0 as
"no limit", so 1 means two tries per server.
"""


class LatePongClient(Client):
    """nats-py's client, safe against a PONG that comes after its flush gave up.

    nats-py 2.16 cancels a timed-out flush's future but leaves it in its PONG queue; when the
    server answers late (after a pause, or a slow network), `_process_pong` sets the result of
    the cancelled future, the InvalidStateError ends the read loop, and the connection still
    says connected while it reads nothing (issues 469 and 624 of nats-py): a 5 s pause of
    nats-server silenced every replica for 5 minutes. Each PONG still answers one PING, in
    order; one whose waiter has gone is simply counted.
    """

    async def _process_pong(self) -> None:
        if self._pongs:
            future = self._pongs.pop(0)
            if not future.done():
                future.set_result(True)
            self._pongs_received += 1
            self._pings_outstanding = 0

    async def _send_ping(self, future: asyncio.Future[bool] | None = None) -> None:
        """A PING after everything written before it, as `flush()` promises.

        nats-py 2.16 writes the PING straight to the socket while earlier commands still wait in
        its buffer: a subscription's drain (UNSUB, then a flush, then it stops reading) could
        take its PONG before the server had the UNSUB, and drop what the server delivered in
        between. The buffer goes out first, in one write, as nats-py's flusher would send it."""
        if self.is_connected and self._pending and self._transport is not None:
            self._transport.writelines(self._pending[:])
            self._pending = []
            self._pending_data_size = 0
        await super()._send_ping(future)

    async def reconnect(self) -> None:
        """Drop the connection the way nats-py drops a stale one, and reconnect."""
        await self._process_op_err(StaleConnectionError())

    @property
    def reading(self) -> bool:
        """Whether the read loop runs: without it nothing arrives, whatever `is_connected` says."""
        task = self._reading_task
        return task is not None and not task.done()


def server_list(urls: str) -> list[str]:
    """`NATS_URL` is one URL or a comma-separated list of a cluster's (the client fails over)."""
    return [url.strip() for url in urls.split(",") if url.strip()]


async def open_connection(**options: Any) -> LatePongClient:
    """`nats.connect`, with the client every long-lived connection in the repository uses; a
    server given as a comma-separated list stands for each of its URLs."""
    servers = options.get("servers")
    if isinstance(servers, list):
        options["servers"] = [url for given in servers for url in server_list(given)]
    nc = LatePongClient()
    await nc.connect(**options)
    return nc


def own_inboxes(nc: Client) -> tuple[str, ...]:
    """Where replies would come back to this connection itself, as subject prefixes: its private
    inbox prefix, or, with the shared `_INBOX`, the prefix of each inbox it subscribes to (its
    request replies, the events' acks). No caller may name one as a reply subject."""
    prefix = nc.new_inbox().rpartition(".")[0]
    if prefix != names.INBOX_PREFIX:
        return (f"{prefix}.",)
    subscribed = (s.subject for s in nc._subs.values())
    return tuple(sorted({s.rstrip("*>") for s in subscribed if s.startswith(f"{prefix}.")}))


async def flush_in_order(nc: Client, seconds: int = 2) -> None:
    """What `nc.flush()` promises: the server has seen everything written before it.

    nats-py 2.16 writes a flush's PING straight to the socket while the publishes and
    subscriptions before it still wait in its buffer, so the PONG can come back before the
    server has read them, and before its -ERR for a denied one (measured: 1 denial in 4 missed;
    nats.py2 fixed the same in 2017, PR #24). The first flush pushes the buffer out; the second
    PING goes after it.
    """
    await nc.flush(timeout=seconds)
    await nc.flush(timeout=seconds)


def load_credentials(settings: Settings) -> UserCredentials | None:
    """Raises CredentialsError (one clear line) for a malformed secret, before any connect."""
    if settings.nats_credentials is not None:
        return decode_base64_credentials(settings.nats_credentials.get_secret_value())
    if settings.nats_creds_file is not None:
        return read_credentials_file(settings.nats_creds_file)
    return None


async def _log_disconnected() -> None:
    log.info("nats.disconnected")


async def _log_reconnected() -> None:
    log.info("nats.reconnected")


async def connect(
    settings: Settings,
    *,
    name: str,
    credentials: UserCredentials | None,
    servers: list[str] | None = None,
    lame_duck_mode_cb: Callable[[], Coroutine[None, None, None]] | None = None,
) -> LatePongClient:
    """Retry the first connect with backoff; once connected, reconnect forever.

    `servers` (some of `NATS_URL`'s) narrows the first connect, as a lame-duck handover does
    to avoid the server leaving; reconnects may use every server of `NATS_URL`."""
    every_server = server_list(settings.nats_url)
    first_connect_failures: list[Exception] = []
    connected = False

    async def on_error(error: Exception) -> None:
        # Before the first connect succeeds, a failure is a reason to retry, told once per
        # attempt below and in ConnectError, not a warning per nats-py internal try.
        if connected:
            log.warning("nats.error", extra={"error": str(error) or type(error).__name__})
        else:
            first_connect_failures.append(error)

    options: dict[str, Any] = {
        "servers": servers or every_server,
        "name": name,
        "connect_timeout": settings.connect_timeout_s,
        # The first connect gives up quickly and tenacity retries it with backoff and a log
        # line per attempt; reconnects are switched on once connected.
        **ONE_PASS,
        "reconnect_time_wait": 1,
        "error_cb": on_error,
        "disconnected_cb": _log_disconnected,
        "reconnected_cb": _log_reconnected,
        "lame_duck_mode_cb": lame_duck_mode_cb,
    }
    if credentials is not None:
        options["user_credentials"] = RawCredentials(credentials.text)
        if credentials.inbox_prefix is not None:
            options["inbox_prefix"] = credentials.inbox_prefix
    try:
        async for attempt in AsyncRetrying(
            stop=stop_after_attempt(settings.connect_attempts),
            wait=wait_exponential(multiplier=0.2, max=5),
            retry=retry_if_exception_type((NoServersError, OSError, TimeoutError)),
            reraise=True,
        ):
            with attempt:
                number = attempt.retry_state.attempt_number
                if number > 1:
                    log.info(
                        "nats.connect_retry",
                        extra={"attempt": number, "error": failure_reason(first_connect_failures)},
                    )
                nc = await open_connection(**options)
                connected = True
                nc.options["allow_reconnect"] = True
                nc.options["max_reconnect_attempts"] = -1
                if servers:
                    nc.set_server_pool(every_server)
                return nc
    except (NoServersError, OSError, TimeoutError) as error:
        raise ConnectError(
            f"could not connect to NATS at {settings.nats_url} after"
            f" {settings.connect_attempts} attempts: {failure_reason(first_connect_failures, error)}"
        ) from None
    raise AssertionError("unreachable: tenacity reraises")  # pragma: no cover


def failure_reason(failures: list[Exception], fallback: Exception | None = None) -> str:
    """The last real failure: nats-py's NoServersError only says that every try failed."""
    error = failures[-1] if failures else fallback
    if error is None:
        return "unknown"
    return str(error).strip() or type(error).__name__
