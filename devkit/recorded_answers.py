"""Reading the event stream as the data platform would: the `reader` user, a pull consumer of its
own, nothing else. `invoke events` prints the events as JSON lines."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.errors import TimeoutError as NatsTimeout
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.client import JetStreamContext
from nats.js.errors import NotFoundError

from devkit.caller import CallError, connect_client
from devkit.flags import FlagError
from service import names
from service.protocol import is_client_id

BATCH = 256
WAIT_S = 1.0
"""How long one pull waits for new events (--follow)."""
IDLE_CONSUMER_S = 30.0
"""The server removes our consumer this long after we stop pulling (a reader killed with -9)."""


class EventsError(CallError):
    """The stream cannot be read: missing, or the user may not read it."""


@dataclass(frozen=True)
class EventQuery:
    last: int
    client_id: str = ""
    follow: bool = False

    @property
    def subject(self) -> str:
        return (
            names.event_subject(self.client_id)
            if self.client_id
            else f"{names.EVENT_SUBJECT_PREFIX}.>"
        )

    def start(self, first_seq: int, last_seq: int) -> int:
        """The first sequence worth reading: without a filter, the last N are the last N
        sequences; with one, every match must be looked at (the newest N are kept)."""
        if self.client_id:
            return first_seq
        return max(first_seq, last_seq - self.last + 1, 1)


def check_client_id(client_id: str) -> str:
    if client_id and not is_client_id(client_id):
        raise FlagError(
            f"--client-id {client_id!r} is not a customer id ({names.CLIENT_ID_PATTERN})"
        )
    return client_id


def event_line(msg: Msg) -> str:
    """One event as a JSON line: its stream sequence and subject, then the event itself."""
    line: dict[str, object] = {"seq": msg.metadata.sequence.stream, "subject": msg.subject}
    try:
        document = json.loads(msg.data)
    except ValueError:
        document = None
    if isinstance(document, dict):
        line.update(document)
    else:  # not one of ours (an administrator published by hand): shown, not hidden
        line["data"] = msg.data.decode(errors="replace")
    return json.dumps(line)


async def read_events(
    url: str,
    creds: Path | None,
    query: EventQuery,
    emit: Callable[[str], None],
    stop: asyncio.Event | None = None,
) -> int:
    """Print the newest `query.last` events, then (with follow) new ones until `stop` is set."""
    nc = await connect_client(url, name="customer-events", creds=creds)
    try:
        return await _read(nc.jetstream(), query, emit, stop or asyncio.Event())
    finally:
        await nc.close()


async def _read(
    js: JetStreamContext, query: EventQuery, emit: Callable[[str], None], stop: asyncio.Event
) -> int:
    try:
        info = await js.stream_info(names.STREAM_NAME)
    except NotFoundError:
        raise EventsError(
            f"there is no stream {names.STREAM_NAME} (has the service started?)"
        ) from None
    except NatsTimeout:
        raise EventsError(
            f"no answer about stream {names.STREAM_NAME}: is this user allowed to read it?"
        ) from None
    state = info.state
    name = f"events-{secrets.token_hex(6)}"
    config = ConsumerConfig(
        name=name,
        filter_subject=query.subject,
        ack_policy=AckPolicy.NONE,
        inactive_threshold=IDLE_CONSUMER_S,
        deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
        opt_start_seq=query.start(state.first_seq, state.last_seq),
    )
    await js.add_consumer(names.STREAM_NAME, config=config)
    subscription = await js.pull_subscribe_bind(name, stream=names.STREAM_NAME)
    shown = 0
    try:
        newest: deque[str] = deque(maxlen=query.last)
        pending = (await subscription.consumer_info()).num_pending or 0
        while pending > 0:  # catching up: bounded by what the stream held when we started
            batch = await _pull(subscription)
            if not batch:
                break
            newest.extend(event_line(m) for m in batch)
            pending = batch[-1].metadata.num_pending or 0
        for line in newest:
            emit(line)
            shown += 1
        while query.follow and not stop.is_set():
            for msg in await _pull(subscription):
                emit(event_line(msg))
                shown += 1
    finally:
        with contextlib.suppress(NatsError, OSError):  # else the server drops it when idle
            await subscription.unsubscribe()
            await js.delete_consumer(names.STREAM_NAME, name)
    return shown


async def _pull(subscription: JetStreamContext.PullSubscription) -> list[Msg]:
    try:
        return await subscription.fetch(BATCH, timeout=WAIT_S)
    except NatsTimeout:
        return []
