"""Create what the service needs, idempotently: the table, the `config` bucket, the event stream.

Run by the local stack before the replicas start, and by every replica at start-up (in the
cloud nothing else creates the bucket and stream). Re-running changes nothing; a stream that
exists with other settings is an error listing the differences, never silently replaced.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, Final

from nats.errors import Error as NatsError
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.client import JetStreamContext
from nats.js.errors import APIError, BucketNotFoundError, NotFoundError
from nats.js.kv import KeyValue

from service import names
from service.connection import connect, load_credentials
from service.faults import ServiceFault
from service.jetstream_specs import StreamSpec, config_bucket, event_stream
from service.logs import configure_logging
from service.operator_errors import OperatorError, exit_on_operator_error
from service.retrying import bounded_retries
from service.settings import Settings, load_settings
from service.store import DynamoStore, open_dynamodb

log = logging.getLogger(__name__)


class BootstrapError(OperatorError):
    """Bootstrap cannot finish: something we must not change differs, or a dependency fails."""


def stream_config(spec: StreamSpec) -> StreamConfig:
    """The spec as nats-py's (and the server's JSON) stream configuration."""
    return StreamConfig(
        name=spec.name,
        description=spec.description,
        subjects=list(spec.subjects),
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        discard=DiscardPolicy.OLD,
        max_age=spec.max_age_s,
        max_bytes=spec.max_bytes,
        num_replicas=spec.replicas,
        duplicate_window=spec.duplicate_window_s,
    )


def desired_stream(replicas: int, max_bytes: int = names.STREAM_MAX_BYTES) -> StreamConfig:
    """The event stream the service relies on, as the server describes a stream."""
    return stream_config(event_stream(replicas, max_bytes))


_COMPARED = ("subjects", "retention", "storage", "discard", "max_age", "max_bytes", "num_replicas")


def stream_differences(existing: StreamConfig, desired: StreamConfig) -> list[str]:
    """Human-readable `field: is X, want Y` for each setting the service relies on."""
    differences = []
    for name in _COMPARED:
        have: Any = getattr(existing, name)
        want: Any = getattr(desired, name)
        if name == "subjects":
            have, want = sorted(have or []), sorted(want or [])
        elif name == "max_age":
            have, want = float(have or 0), float(want or 0)
        if have != want:
            differences.append(f"{name}: is {_show(have)}, want {_show(want)}")
    return differences


def _show(value: Any) -> str:
    return str(getattr(value, "value", value))


@dataclass(frozen=True)
class StreamReport:
    created: bool


async def ensure_stream(
    js: JetStreamContext, replicas: int, max_bytes: int = names.STREAM_MAX_BYTES
) -> StreamReport:
    desired = desired_stream(replicas, max_bytes)
    try:
        info = await js.stream_info(names.STREAM_NAME)
    except NotFoundError:
        await js.add_stream(desired)
        log.info("bootstrap.stream_created", extra={"stream": names.STREAM_NAME})
        return StreamReport(created=True)
    differences = stream_differences(info.config, desired)
    if differences:
        raise BootstrapError(
            f"stream {names.STREAM_NAME} exists with different settings ("
            + "; ".join(differences)
            + "); change or delete it by hand, it is never replaced automatically"
        )
    return StreamReport(created=False)


async def ensure_bucket(js: JetStreamContext, replicas: int) -> KeyValue:
    """Open `config`; create it only when missing (nats-py's create differs from the CLI's)."""
    try:
        return await js.key_value(names.KV_BUCKET)
    except BucketNotFoundError:
        pass
    wanted = config_bucket(replicas)
    await js.create_key_value(
        bucket=wanted.name,
        description=wanted.description,
        history=wanted.history,
        max_bytes=wanted.max_bytes,
        storage=StorageType.FILE,
        replicas=wanted.replicas,
    )
    log.info("bootstrap.bucket_created", extra={"bucket": names.KV_BUCKET})
    return await js.key_value(names.KV_BUCKET)


JETSTREAM_SETTLING: Final = frozenset({10005, 10008, 10039})
"""JetStream's answers while a cluster or a new account settles: no suitable peers for placement
yet (10005), the system temporarily unavailable (10008), the account not yet loaded on the node
asked (10039). Seen on a cluster that had just passed its health check; each clears in seconds."""


def jetstream_settling(error: BaseException) -> bool:
    return isinstance(error, APIError) and error.err_code in JETSTREAM_SETTLING


@dataclass(frozen=True)
class BootstrapReport:
    table_created: bool
    stream_created: bool


async def bootstrap(settings: Settings, *, wait_s: float = 60.0) -> BootstrapReport:
    """Everything the local stack needs before the replicas start; safe to run again.

    Waits up to `wait_s` for DynamoDB to answer (in Compose the emulator starts alongside) and
    for JetStream to settle (a cluster's placement, a node loading the account).
    """
    try:
        return await _bootstrap(settings, wait_s)
    except (ServiceFault, NatsError) as error:
        raise BootstrapError(f"bootstrap failed: {str(error) or type(error).__name__}") from None


async def _bootstrap(settings: Settings, wait_s: float) -> BootstrapReport:
    nc = await connect(settings, name="customer-bootstrap", credentials=load_credentials(settings))
    try:
        async with open_dynamodb(settings, pool_size=4) as dynamodb:
            store = DynamoStore(
                dynamodb, settings.ddb_table, retry_budget_s=wait_s, attempts=1_000_000
            )
            table_created = await store.ensure_table()
        js = nc.jetstream()
        settled = bounded_retries(attempts=1_000_000, budget_s=wait_s, retryable=jetstream_settling)
        async for attempt in settled:
            with attempt:
                await ensure_bucket(js, settings.stream_replicas)
                stream = await ensure_stream(
                    js, settings.stream_replicas, settings.stream_max_bytes
                )
    finally:
        await nc.drain()
    return BootstrapReport(table_created=table_created, stream_created=stream.created)


def main() -> None:
    """`python -m service.bootstrap`: the one-shot bootstrap container in Compose."""
    with exit_on_operator_error():
        settings = load_settings()
        configure_logging(settings.log_level, "bootstrap")
        report = asyncio.run(bootstrap(settings))
    log.info(
        "bootstrap.done",
        extra={"table_created": report.table_created, "stream_created": report.stream_created},
    )


if __name__ == "__main__":
    main()
