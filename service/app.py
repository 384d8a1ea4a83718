"""The service's lifecycle in one place: connect, bootstrap, seed, serve, drain on a signal."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from dataclasses import dataclass

from nats.aio.client import Client
from nats.errors import Error as NatsError

from service import __version__, names
from service.balance import BalanceHandler
from service.bootstrap import ensure_bucket, ensure_stream
from service.coalescer import BalanceCoalescer
from service.connection import LatePongClient, connect, load_credentials, server_list
from service.credentials import UserCredentials
from service.discovery import ServiceIdentity, new_service_id
from service.events import EventRecorder
from service.faults import ServiceFault
from service.health import HealthReporter
from service.lame_duck import LameDuckNotice, hand_over, successor_servers
from service.logs import configure_logging
from service.micro import Endpoint, MicroService
from service.operator_errors import OperatorError, exit_on_operator_error
from service.seeding import Seeder
from service.settings import Settings, load_settings
from service.store import DynamoStore, open_dynamodb

log = logging.getLogger("service")


class StartupError(OperatorError):
    """A dependency failed while the service prepared to serve (bootstrap or seeding)."""


def identity(settings: Settings) -> ServiceIdentity:
    return ServiceIdentity(
        name=names.SERVICE_NAME,
        version=__version__,
        description=names.SERVICE_DESCRIPTION,
        metadata={"table": settings.ddb_table, "stream": names.STREAM_NAME},
    )


@dataclass(frozen=True)
class Running:
    service: MicroService
    reader: BalanceCoalescer
    events: EventRecorder


async def serve(
    settings: Settings,
    *,
    service_id: str,
    credentials: UserCredentials | None,
    stop: asyncio.Event,
) -> None:
    """Run until `stop` is set, then finish in-flight requests and drain the connection; when
    the server announces lame-duck mode, move to another (service.lame_duck)."""
    name = f"{names.SERVICE_NAME}-{service_id}"
    notice = LameDuckNotice()
    nc = await connect(
        settings, name=name, credentials=credentials, lame_duck_mode_cb=notice.received
    )
    try:
        # Alive from the first connect: a long seed is starting, not a hang (service.health).
        async with (
            HealthReporter(nc, settings, service_id) as health,
            open_dynamodb(settings) as dynamodb,
        ):
            store = DynamoStore(
                dynamodb, settings.ddb_table, retry_budget_s=settings.request_timeout_s / 2
            )
            running = await _start(nc, settings, store, service_id, stop)
            if running is None:
                return
            health.phase = "serving"
            log.info(
                "service.ready", extra={"subject": names.REQUEST_SUBJECT, "version": __version__}
            )
            while await _lame_duck_before(stop, notice):
                nc, notice = await _move_off(
                    nc, settings, name=name, credentials=credentials, running=running, health=health
                )
            health.phase = "stopping"
            service = running.service
            log.info("service.stopping", extra={"in_flight": service.in_flight})
            await service.stop_accepting(settings.drain_timeout_s)
            finished = await service.wait_idle(settings.drain_timeout_s)
            log.info(
                "service.drained" if finished else "service.drain_timeout",
                extra={"in_flight": service.in_flight},
            )
            await running.reader.close()
    finally:
        with contextlib.suppress(NatsError):
            await nc.drain()
    log.info("service.stopped")


async def _start(
    nc: Client, settings: Settings, store: DynamoStore, service_id: str, stop: asyncio.Event
) -> Running | None:
    """Bootstrap and seed, giving up early (None) if a stop signal arrives meanwhile."""
    js = nc.jetstream()

    async def prepare() -> Running:
        kv = await ensure_bucket(js, settings.stream_replicas)
        await ensure_stream(js, settings.stream_replicas, settings.stream_max_bytes)
        if settings.seed_rows:
            await Seeder(
                kv,
                store,
                table=settings.ddb_table,
                me=service_id,
                rows=settings.seed_rows,
                claim_timeout_s=settings.seed_claim_timeout_s,
            ).run()
        else:  # a table holding real data: never write demo balances into it
            log.info("seed.disabled", extra={"table": settings.ddb_table})
        events = EventRecorder(
            nc,
            service_id,
            ack_timeout_s=settings.event_ack_timeout_s,
            budget_s=settings.request_timeout_s / 2,
        )
        await events.start()
        reader = BalanceCoalescer(
            store,
            batch_max=settings.ddb_batch_max,
            batches_in_flight=settings.ddb_batches_in_flight,
            unprocessed_budget_s=settings.request_timeout_s / 2,
        )
        service = MicroService(
            nc,
            identity(settings),
            Endpoint(
                name=names.ENDPOINT_NAME,
                subject=names.REQUEST_SUBJECT,
                queue_group=names.QUEUE_GROUP,
                handler=BalanceHandler(reader, events),
                metadata={
                    "description": "The balance of one customer",
                    "format": "application/json",
                    "request": '{"client_id":"<id>"}',
                    "response": '{"balance":<integer>}',
                },
                stats_data=lambda: {**reader.metrics.document(), **events.figures()},
            ),
            max_concurrency=settings.max_concurrency,
            budget_s=settings.request_timeout_s,
            service_id=service_id,
        )
        await service.start()
        return Running(service, reader, events)

    preparing = asyncio.create_task(prepare())
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({preparing, stopping}, return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    if not preparing.done():
        log.info("service.stopped_during_startup")
        preparing.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await preparing
        return None
    try:
        return preparing.result()
    except (ServiceFault, NatsError) as error:
        raise StartupError(str(error) or type(error).__name__) from None


async def _move_off(
    nc: LatePongClient,
    settings: Settings,
    *,
    name: str,
    credentials: UserCredentials | None,
    running: Running,
    health: HealthReporter,
) -> tuple[LatePongClient, LameDuckNotice]:
    """The service moved to another server of `NATS_URL`, and the notice its new connection
    will give; the same connection when no other server answers."""
    notice = LameDuckNotice()

    async def connect_elsewhere(leaving: str | None) -> LatePongClient:
        return await connect(
            settings,
            name=name,
            credentials=credentials,
            servers=successor_servers(server_list(settings.nats_url), leaving),
            lame_duck_mode_cb=notice.received,
        )

    async def move(new: LatePongClient) -> None:
        await running.events.move_to(new)  # first: the service's own inboxes include its new one
        await running.service.move_to(new)
        health.follow(new)

    async def settle() -> None:
        # Its replies can leave only there; bounded as a stop's drain is.
        with contextlib.suppress(TimeoutError):  # asyncio.timeout: never loses a cancel
            async with asyncio.timeout(settings.drain_timeout_s):
                await running.service.answered_on(nc)
        await running.events.settled()

    moved = await hand_over(
        nc, connect_elsewhere=connect_elsewhere, move=move, settle=settle, who=name
    )
    return moved, notice


async def _lame_duck_before(stop: asyncio.Event, notice: LameDuckNotice) -> bool:
    """Wait for a stop or a lame-duck notice; True for the notice (a stop wins a tie)."""
    stopping = asyncio.create_task(stop.wait())
    noticed = asyncio.create_task(notice.wait())
    await asyncio.wait({stopping, noticed}, return_when=asyncio.FIRST_COMPLETED)
    for waiter in (stopping, noticed):
        waiter.cancel()
    return not stop.is_set()


async def run(settings: Settings, service_id: str, credentials: UserCredentials | None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await serve(settings, service_id=service_id, credentials=credentials, stop=stop)


def main() -> None:
    with exit_on_operator_error():
        settings = load_settings()
        service_id = new_service_id()
        configure_logging(settings.log_level, service_id)
        credentials = load_credentials(settings)
        try:
            asyncio.run(run(settings, service_id, credentials))
        except OperatorError as error:
            log.error("service.failed", extra={"error": str(error)})
            raise
