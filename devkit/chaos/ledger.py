"""What the event stream holds after a fault, set against what the callers were told: every
answered request must have its event stored once, and no answer may carry a balance the stream
does not hold.

An answer does not name its event (the reply is only the balance), so the audit counts per
customer: with the customer's answers A, its failed requests F and its stored events E (distinct
message ids), A <= E <= A + F. E > A is allowed only up to F: a request can fail after its event
was stored (the acknowledgement lost with the leader), which is a 503 the caller may retry, not
a lie. A message id stored twice is a duplicate whatever the counts say.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import orjson
from nats.errors import Error as NatsError
from nats.errors import TimeoutError as NatsTimeout
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, Header
from nats.js.client import JetStreamContext
from nats.js.errors import ServiceUnavailableError

from devkit.chaos.load import Shot
from service import names
from service.connection import LatePongClient, open_connection
from service.credentials import inbox_prefix_of
from service.protocol import Reply

BATCH = 512
WAIT_S = 2.0
"""How long one pull waits: the stream is still while the ledger is read."""
META_WAIT_S = 30.0
"""How long a consumer's creation may wait for the cluster's meta leader."""


@dataclass(frozen=True)
class Event:
    seq: int
    msg_id: str
    client_id: str
    balance: int | None
    service_id: str = ""
    """The replica that recorded it."""
    served_at: str = ""
    """When the replica served it (ISO 8601, UTC, milliseconds)."""


@dataclass(frozen=True)
class Audit:
    """What does not add up; every list empty when the stream and the answers agree."""

    missing: list[str] = field(default_factory=list)
    """Customers with fewer events than answers: an acknowledged event lost."""
    surplus: list[str] = field(default_factory=list)
    """Customers with more events than answers and failures together: an event nobody asked for."""
    duplicated: list[str] = field(default_factory=list)
    """Message ids stored more than once."""
    unrecorded_balances: list[tuple[str, int]] = field(default_factory=list)
    """(customer, balance) answered to a caller but in no stored event of that customer."""

    @property
    def clean(self) -> bool:
        return not (self.missing or self.surplus or self.duplicated or self.unrecorded_balances)


def answered_balance(shot: Shot) -> int:
    assert isinstance(shot.outcome, Reply)
    assert shot.outcome.ok
    balance = orjson.loads(shot.outcome.data)["balance"]
    assert isinstance(balance, int)
    return balance


def audit(shots: Sequence[Shot], events: Iterable[Event]) -> Audit:
    """The stream's events (those stored since the load began) against the load's outcomes.

    Events carry the customer, not the request: with one customer per request (as the node
    faults send) every count here is a count of requests; with a customer asked twice, a lost
    event can hide behind a failed request's stored one."""
    answers: Counter[str] = Counter()
    failures: Counter[str] = Counter()
    for shot in shots:
        (answers if shot.ok else failures)[shot.client_id] += 1
    stored_ids: Counter[str] = Counter()
    stored: Counter[str] = Counter()
    balances: dict[str, set[int | None]] = defaultdict(set)
    for event in events:
        stored_ids[event.msg_id] += 1
        if stored_ids[event.msg_id] == 1:
            stored[event.client_id] += 1
        balances[event.client_id].add(event.balance)
    customers = sorted(set(answers) | set(failures) | set(stored))
    return Audit(
        missing=[c for c in customers if stored[c] < answers[c]],
        surplus=[c for c in customers if stored[c] > answers[c] + failures[c]],
        duplicated=sorted(m for m, n in stored_ids.items() if n > 1),
        unrecorded_balances=sorted(
            {
                (s.client_id, answered_balance(s))
                for s in shots
                if s.ok and answered_balance(s) not in balances[s.client_id]
            }
        ),
    )


def event_of(seq: int, headers: dict[str, str] | None, data: bytes) -> Event:
    document = orjson.loads(data)
    balance = document.get("balance")
    return Event(
        seq=seq,
        msg_id=(headers or {}).get(Header.MSG_ID.value, f"(no id, seq {seq})"),
        client_id=str(document.get("client_id")),
        balance=balance if isinstance(balance, int) else None,
        service_id=str(document.get("service_id", "")),
        served_at=str(document.get("served_at", "")),
    )


async def stream_last_seq(servers: str, creds: Path) -> int:
    """The stream's last sequence now: the load's events are the ones after it."""
    nc = await _connect(servers, creds)
    try:
        info = await nc.jetstream().stream_info(names.STREAM_NAME)
        return info.state.last_seq
    finally:
        await nc.close()


async def read_ledger(servers: str, creds: Path, after_seq: int) -> list[Event]:
    """Every event stored after `after_seq`, with its message id, read as the reader user with
    a consumer of its own (the way the data platform reads)."""
    nc = await _connect(servers, creds)
    js = nc.jetstream()
    name = f"chaos-ledger-{secrets.token_hex(6)}"
    try:
        last = (await js.stream_info(names.STREAM_NAME)).state.last_seq
        config = ConsumerConfig(
            name=name,
            ack_policy=AckPolicy.NONE,
            inactive_threshold=30.0,
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
            opt_start_seq=after_seq + 1,
        )
        await _add_consumer(js, config)
        subscription = await js.pull_subscribe_bind(name, stream=names.STREAM_NAME)
        events: list[Event] = []
        seq = after_seq
        while seq < last:
            try:
                batch = await subscription.fetch(BATCH, timeout=WAIT_S)
            except NatsTimeout:
                break  # nothing more: the counts will say what is missing
            for msg in batch:
                seq = msg.metadata.sequence.stream
                events.append(event_of(seq, msg.headers, msg.data))
        with contextlib.suppress(NatsError, OSError):
            await js.delete_consumer(names.STREAM_NAME, name)
        return events
    finally:
        await nc.close()


async def _add_consumer(js: JetStreamContext, config: ConsumerConfig) -> None:
    """Created once the cluster's meta leader can: a node back from a fault can call a new
    meta election (JetStream answers 503 meanwhile), which a reader simply waits out."""
    deadline = time.monotonic() + META_WAIT_S
    while True:
        try:
            await js.add_consumer(names.STREAM_NAME, config=config)
            return
        except (ServiceUnavailableError, NatsTimeout):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


async def _connect(servers: str, creds: Path) -> LatePongClient:
    return await open_connection(
        servers=[servers],
        user_credentials=str(creds),
        inbox_prefix=inbox_prefix_of(creds) or names.INBOX_PREFIX,
        name="customer-chaos-ledger",
        connect_timeout=2,
        max_reconnect_attempts=5,
        reconnect_time_wait=0.2,
    )
