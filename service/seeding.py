"""Seed the balances table exactly once per table, however many replicas start together.

The marker `seed.<table>` in the `config` bucket records who seeds which table. The original
kept a bare `seed` flag: three tasks seeded at once, and a recreated table stayed empty until
someone deleted the flag by hand. Here one replica wins an atomic KV create (or a
revision-checked update), the others wait; a claim that stops being refreshed is taken over;
and the marker carries the table's creation time, so a recreated table is seeded again.
"""

from __future__ import annotations

import asyncio
import enum
import json
import logging
import random
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import Protocol

from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError

from service import names

log = logging.getLogger(__name__)

BALANCE_MIN = 100
BALANCE_MAX = 9999


class SeedState(enum.StrEnum):
    CLAIMED = "claimed"
    DONE = "done"


class Action(enum.Enum):
    CLAIM = "claim"
    """No marker: create one atomically."""
    TAKE_OVER = "take_over"
    """A stale claim, a recreated table or an unreadable marker: replace it, revision-checked."""
    WAIT = "wait"
    SKIP = "skip"


@dataclass(frozen=True)
class SeedMarker:
    state: SeedState
    table_created: str
    rows: int
    by: str
    at: str
    """When the claim was made or last refreshed, or when seeding finished (RFC 3339)."""

    def encode(self) -> bytes:
        return json.dumps(asdict(self), separators=(",", ":")).encode()

    @classmethod
    def decode(cls, data: bytes) -> SeedMarker | None:
        """None for anything that is not a marker this code wrote (then it is replaced)."""
        try:
            raw = json.loads(data)
            marker = cls(
                state=SeedState(raw["state"]),
                table_created=str(raw["table_created"]),
                rows=int(raw["rows"]),
                by=str(raw["by"]),
                at=str(raw["at"]),
            )
            marker.claimed_at()  # a time nobody can compare with is no marker at all
        except (ValueError, KeyError, TypeError, AttributeError):
            return None
        return marker

    def claimed_at(self) -> datetime:
        """`at` as an aware time; ValueError for text that is none (or has no timezone)."""
        at = datetime.fromisoformat(self.at)
        if at.utcoffset() is None:
            raise ValueError(f"seed marker time {self.at!r} has no timezone")
        return at


def decide(
    marker: SeedMarker | None,
    *,
    exists: bool,
    table_created: str,
    now: datetime,
    claim_timeout_s: float,
) -> Action:
    """What a replica does on reading the marker; the KV revision check settles races."""
    if not exists:
        return Action.CLAIM
    if marker is None or marker.table_created != table_created:
        return Action.TAKE_OVER
    if marker.state is SeedState.DONE:
        return Action.SKIP
    age = (now - marker.claimed_at()).total_seconds()
    return Action.TAKE_OVER if age > claim_timeout_s else Action.WAIT


def seed_rows(count: int, rng: random.Random | None = None) -> Iterator[tuple[str, int]]:
    """Ids "1".."count" with balances in [100, 9999], generated lazily (flat memory)."""
    rng = rng or random.Random()  # demo balances, not secrets
    for number in range(1, count + 1):
        yield str(number), rng.randint(BALANCE_MIN, BALANCE_MAX)


class MarkerEntry(Protocol):
    @property
    def value(self) -> bytes | None: ...

    @property
    def revision(self) -> int | None: ...


class MarkerBucket(Protocol):
    """What the protocol needs of the `config` bucket (nats-py's KeyValue in production)."""

    async def get(self, key: str) -> MarkerEntry: ...

    async def create(self, key: str, value: bytes) -> int: ...

    async def update(self, key: str, value: bytes, last: int) -> int: ...


class RowWriter(Protocol):
    async def table_created_at(self) -> datetime: ...

    async def write_balances(
        self, rows: Iterator[tuple[str, int]], *, on_progress: Callable[[int], None] | None
    ) -> int: ...


@dataclass(frozen=True)
class SeedOutcome:
    seeded: bool
    rows: int
    by: str
    earlier_rows: int | None = None
    """A seed this one replaced on the same table wrote this many rows (some may remain)."""


class Seeder:
    """Runs the protocol for one table on behalf of one replica (`me`)."""

    def __init__(
        self,
        kv: MarkerBucket,
        store: RowWriter,
        *,
        table: str,
        me: str,
        rows: int,
        claim_timeout_s: float,
        poll_interval_s: float = 0.25,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        on_progress: Callable[[int, int], None] | None = None,
    ) -> None:
        self._kv = kv
        self._store = store
        self._key = names.seed_key(table)
        self._table = table
        self._me = me
        self._rows = rows
        self._claim_timeout_s = claim_timeout_s
        self._poll_interval_s = poll_interval_s
        self._clock = clock
        self._on_progress = on_progress
        """Told (written, total) after every write, for a person watching `invoke seed`."""

    def _marker(self, state: SeedState, table_created: str) -> SeedMarker:
        return SeedMarker(state, table_created, self._rows, self._me, self._clock().isoformat())

    async def _read(self) -> tuple[bool, SeedMarker | None, int]:
        try:
            entry = await self._kv.get(self._key)
        except KeyNotFoundError:  # includes a deleted or purged key
            return False, None, 0
        return True, SeedMarker.decode(entry.value or b""), entry.revision or 0

    async def run(self, *, force: bool = False) -> SeedOutcome:
        """Return once the table is seeded, by this replica or another."""
        table_created = (await self._store.table_created_at()).isoformat()
        waited = False
        while True:
            exists, marker, revision = await self._read()
            action = decide(
                marker,
                exists=exists,
                table_created=table_created,
                now=self._clock(),
                claim_timeout_s=self._claim_timeout_s,
            )
            if force and action in (Action.SKIP, Action.WAIT):
                action = Action.TAKE_OVER
            force = False  # a forced run still yields to a replica that claims first
            if action is Action.SKIP:
                assert marker is not None
                log.info(
                    "seed.skipped",
                    extra={"table": self._table, "rows": marker.rows, "seeded_by": marker.by},
                )
                return SeedOutcome(seeded=False, rows=marker.rows, by=marker.by)
            if action is Action.WAIT:
                if not waited:
                    log.info(
                        "seed.waiting",
                        extra={"table": self._table, "claimed_by": marker and marker.by},
                    )
                    waited = True
                await asyncio.sleep(self._poll_interval_s)
                continue
            claim = self._marker(SeedState.CLAIMED, table_created).encode()
            try:
                if action is Action.CLAIM:
                    revision = await self._kv.create(self._key, claim)
                else:
                    revision = await self._kv.update(self._key, claim, last=revision)
            except KeyWrongLastSequenceError:
                continue  # another replica moved first; read again
            reason = (
                "recreated table"
                if marker and marker.table_created != table_created
                else action.value
            )
            same_table = marker is not None and marker.table_created == table_created
            outcome = await self._seed(table_created, revision, reason)
            if same_table and marker is not None:
                return replace(outcome, earlier_rows=marker.rows)
            return outcome

    async def _seed(self, table_created: str, revision: int, reason: str) -> SeedOutcome:
        log.info("seed.started", extra={"table": self._table, "rows": self._rows, "reason": reason})
        refresher = _ClaimRefresher(self, table_created, revision)
        loop = asyncio.get_running_loop()
        started = loop.time()
        last_report = [started]

        def progress(written: int) -> None:
            now = loop.time()
            if now - last_report[0] >= 5 or written == self._rows:
                last_report[0] = now
                log.info(
                    "seed.progress",
                    extra={"table": self._table, "written": written, "total": self._rows},
                )
            if self._on_progress is not None:
                self._on_progress(written, self._rows)
            refresher.poke()

        async with refresher:
            written = await self._store.write_balances(seed_rows(self._rows), on_progress=progress)
        done = self._marker(SeedState.DONE, table_created).encode()
        await self._kv.update(self._key, done, last=refresher.revision)
        seconds = round(loop.time() - started, 3)
        log.info("seed.done", extra={"table": self._table, "rows": written, "seconds": seconds})
        return SeedOutcome(seeded=True, rows=written, by=self._me)

    async def refresh(self, table_created: str, revision: int) -> int:
        claim = self._marker(SeedState.CLAIMED, table_created).encode()
        return await self._kv.update(self._key, claim, last=revision)


class _ClaimRefresher:
    """Keeps a long seed's claim fresh so that waiting replicas do not take it over."""

    def __init__(self, seeder: Seeder, table_created: str, revision: int) -> None:
        self._seeder = seeder
        self._table_created = table_created
        self.revision = revision
        self._interval = seeder._claim_timeout_s / 4
        self._last = 0.0
        self._pending: asyncio.Task[None] | None = None

    def poke(self) -> None:
        """Called on progress; raises KeyWrongLastSequenceError once the claim was lost."""
        loop = asyncio.get_running_loop()
        if self._pending is not None and self._pending.done():
            pending, self._pending = self._pending, None
            pending.result()
        if self._pending is None and loop.time() - self._last >= self._interval:
            self._last = loop.time()
            self._pending = asyncio.create_task(self._refresh())

    async def _refresh(self) -> None:
        self.revision = await self._seeder.refresh(self._table_created, self.revision)

    async def __aenter__(self) -> _ClaimRefresher:
        self._last = asyncio.get_running_loop().time()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._pending is not None:
            await self._pending
            self._pending = None
