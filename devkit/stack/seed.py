"""`invoke seed`: the replicas' seeding protocol, run from outside them."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from pathlib import Path

from devkit import platform_names
from devkit.auth.security import creds_path
from devkit.progress import ProgressDisplay
from devkit.stack.lock import stack_lock
from service.bootstrap import ensure_bucket
from service.connection import connect, load_credentials
from service.discovery import new_service_id
from service.seeding import Seeder, SeedOutcome
from service.settings import Settings
from service.store import DynamoStore, open_dynamodb


async def run_seed(
    settings: Settings,
    *,
    rows: int,
    force: bool,
    on_progress: Callable[[int, int], None] | None = None,
) -> SeedOutcome:
    """Seed with the service user's creds; `force` takes over even a finished marker."""
    nc = await connect(settings, name="customer-seed", credentials=load_credentials(settings))
    try:
        kv = await ensure_bucket(nc.jetstream(), settings.stream_replicas)
        async with open_dynamodb(settings, pool_size=16) as dynamodb:
            store = DynamoStore(dynamodb, settings.ddb_table)
            seeder = Seeder(
                kv,
                store,
                table=settings.ddb_table,
                me=f"seed-task-{new_service_id()}",
                rows=rows,
                claim_timeout_s=settings.seed_claim_timeout_s,
                on_progress=on_progress,
            )
            return await seeder.run(force=force)
    finally:
        await nc.drain()


def describe_outcome(outcome: SeedOutcome, asked: int) -> str:
    """What `invoke seed` says, including what an earlier, larger seed left in the table."""
    if not outcome.seeded:
        return f"Already seeded ({outcome.rows} rows by {outcome.by}); use --force to seed again."
    line = f"Seeded {outcome.rows} rows (customers 1..{outcome.rows})."
    if outcome.earlier_rows is not None and outcome.earlier_rows > asked:
        line += (
            f" Customers {asked + 1}..{outcome.earlier_rows} of the earlier seed"
            f" ({outcome.earlier_rows} rows) remain in the table."
        )
    return line


def seed_with_progress(
    settings: Settings, *, rows: int, force: bool, interactive: bool
) -> SeedOutcome:
    """`invoke seed`: the protocol, with progress for the person waiting (or the CI log), one
    at a time with `up` and `down` of the same stack."""
    root = stack_root(settings)
    with stack_lock(root, "seed") if root is not None else contextlib.nullcontext():
        return _seed_with_progress(settings, rows=rows, force=force, interactive=interactive)


def stack_root(settings: Settings) -> Path | None:
    """The stack directory whose service user's creds the settings use (`<dir>/creds/...`)."""
    creds = settings.nats_creds_file
    if creds is None:
        return None
    root = Path(creds).parent.parent
    return root if creds_path(root, platform_names.SERVICE_USER) == Path(creds) else None


def _seed_with_progress(
    settings: Settings, *, rows: int, force: bool, interactive: bool
) -> SeedOutcome:
    with ProgressDisplay(rows, interactive=interactive, unit="rows", rate_unit="rows/s") as shown:
        started = time.monotonic()

        def told(written: int, total: int) -> None:
            shown.update(written, time.monotonic() - started)

        return asyncio.run(run_seed(settings, rows=rows, force=force, on_progress=told))
