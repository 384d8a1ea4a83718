"""Calling `customer.balance` as a client: `invoke req`, the stack's readiness probe, the bench."""

from __future__ import annotations

from pathlib import Path

from nats.aio.client import Client
from nats.errors import Error as NatsError
from nats.errors import NoRespondersError, TimeoutError

from service import names
from service.connection import ONE_PASS, failure_reason, open_connection
from service.credentials import inbox_prefix_of
from service.operator_errors import OperatorError
from service.protocol import Reply, decode_reply, encode_request, timeout_headers

TIMEOUT = "timeout"
NO_RESPONDERS = "no_responders"
Outcome = Reply | str
"""A reply (an answer or a coded error), or TIMEOUT or NO_RESPONDERS."""


async def ask_outcome(nc: Client, payload: bytes, *, timeout_s: float) -> Outcome:
    """One request as a load generator counts it: the reply, or why there was none."""
    try:
        msg = await nc.request(
            names.REQUEST_SUBJECT, payload, timeout=timeout_s, headers=timeout_headers(timeout_s)
        )
    except TimeoutError:
        return TIMEOUT
    except NoRespondersError:
        return NO_RESPONDERS
    return decode_reply(msg.data, msg.headers)


class CallError(OperatorError):
    """No reply at all: nobody listens on the subject, or the caller's timeout ran out."""


async def request_balance(nc: Client, client_id: str, *, timeout_s: float = 5.0) -> Reply:
    outcome = await ask_outcome(nc, encode_request(client_id), timeout_s=timeout_s)
    if outcome == NO_RESPONDERS:
        raise CallError(f"no service is listening on {names.REQUEST_SUBJECT}")
    if outcome == TIMEOUT:
        raise CallError(f"no reply on {names.REQUEST_SUBJECT} within {timeout_s:g} s")
    assert isinstance(outcome, Reply)
    return outcome


async def connect_client(
    url: str, *, name: str, creds: Path | None = None, connect_timeout_s: float = 2.0
) -> Client:
    """A quick connect with no reconnects: a failure is one clear CallError within seconds.

    Replies come to the user's private inbox when its permissions give it one."""
    failures: list[Exception] = []

    async def remember(error: Exception) -> None:  # instead of nats-py's printed traceback
        failures.append(error)

    try:
        return await open_connection(
            servers=[url],
            **ONE_PASS,
            name=name,
            reconnect_time_wait=0.2,
            connect_timeout=connect_timeout_s,
            error_cb=remember,
            user_credentials=None if creds is None else str(creds),
            inbox_prefix=inbox_prefix_of(creds) or names.INBOX_PREFIX,
        )
    except (NatsError, OSError) as error:
        raise CallError(
            f"cannot connect to NATS at {url}: {failure_reason(failures, error)}"
        ) from None
    except (ValueError, TypeError):  # nkeys' errors for a malformed seed in the .creds file
        raise CallError(
            f"cannot connect to NATS at {url}: {creds} is not a usable .creds file"
        ) from None


async def call_once(
    url: str, client_id: str, *, creds: Path | None = None, timeout_s: float = 5.0
) -> Reply:
    """Connect (as the `client` user when given its creds), ask once, disconnect."""
    nc = await connect_client(url, name="customer-caller", creds=creds)
    try:
        return await request_balance(nc, client_id, timeout_s=timeout_s)
    finally:
        await nc.close()
