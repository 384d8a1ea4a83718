"""The seeding protocol's decisions, and the protocol itself over an in-memory KV double."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError

from service.seeding import Action, Seeder, SeedMarker, SeedState, decide, seed_rows

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
CREATED = "2026-11-27T10:00:00+00:00"


def marker(state: SeedState, *, table: str = CREATED, age_s: float = 0) -> SeedMarker:
    return SeedMarker(state, table, 1000, "replica-a", (NOW - timedelta(seconds=age_s)).isoformat())


def decision(m: SeedMarker | None, *, exists: bool = True) -> Action:
    return decide(m, exists=exists, table_created=CREATED, now=NOW, claim_timeout_s=60)


def test_no_marker_claims() -> None:
    assert decision(None, exists=False) is Action.CLAIM


def test_done_for_this_table_skips() -> None:
    assert decision(marker(SeedState.DONE)) is Action.SKIP


def test_done_for_a_recreated_table_takes_over() -> None:
    assert decision(marker(SeedState.DONE, table="2026-01-01T00:00:00+00:00")) is Action.TAKE_OVER


def test_a_fresh_claim_waits() -> None:
    assert decision(marker(SeedState.CLAIMED, age_s=59)) is Action.WAIT


def test_a_stale_claim_is_taken_over() -> None:
    assert decision(marker(SeedState.CLAIMED, age_s=61)) is Action.TAKE_OVER


def test_an_unreadable_marker_is_replaced() -> None:
    assert SeedMarker.decode(b"done") is None  # what the original wrote
    assert decision(None, exists=True) is Action.TAKE_OVER


@pytest.mark.parametrize("at", ["yesterday", "2026-11-27T10:00:00", "", None, 17])
def test_a_marker_whose_time_cannot_be_compared_is_unreadable(at: object) -> None:
    """Not a crash loop at start-up: the marker is replaced, as any unreadable one."""
    raw = json.dumps(
        {"state": "claimed", "table_created": CREATED, "rows": 9, "by": "x", "at": at}
    ).encode()
    assert SeedMarker.decode(raw) is None


def test_marker_round_trips() -> None:
    m = marker(SeedState.CLAIMED)
    assert SeedMarker.decode(m.encode()) == m


def test_rows_are_lazy_and_in_range() -> None:
    rows = seed_rows(1_000_000, random.Random(1))
    assert isinstance(rows, Iterator)
    first = [next(rows) for _ in range(1000)]
    assert [r[0] for r in first[:3]] == ["1", "2", "3"]
    assert all(100 <= balance <= 9999 for _, balance in first)


@dataclass
class Entry:
    value: bytes
    revision: int


class MemoryKV:
    """Create and update with the same revision rules as a JetStream KV bucket."""

    def __init__(self) -> None:
        self.entries: dict[str, Entry] = {}
        self.revision = 0

    async def get(self, key: str) -> Entry:
        await asyncio.sleep(0)
        if key not in self.entries:
            raise KeyNotFoundError
        return self.entries[key]

    async def create(self, key: str, value: bytes) -> int:
        await asyncio.sleep(0)
        if key in self.entries:
            raise KeyWrongLastSequenceError
        return self._put(key, value)

    async def update(self, key: str, value: bytes, last: int) -> int:
        await asyncio.sleep(0)
        if key not in self.entries or self.entries[key].revision != last:
            raise KeyWrongLastSequenceError
        return self._put(key, value)

    def _put(self, key: str, value: bytes) -> int:
        self.revision += 1
        self.entries[key] = Entry(value, self.revision)
        return self.revision


class MemoryTable:
    def __init__(self, created: datetime) -> None:
        self.created = created
        self.rows: dict[str, int] = {}
        self.writers: list[int] = []

    async def table_created_at(self) -> datetime:
        return self.created

    async def write_balances(
        self, rows: Iterator[tuple[str, int]], *, on_progress: Callable[[int], None] | None
    ) -> int:
        count = 0
        for client_id, balance in rows:
            self.rows[client_id] = balance
            count += 1
            if count % 100 == 0:
                await asyncio.sleep(0.001)
                if on_progress:
                    on_progress(count)
        self.writers.append(count)
        return count


def seeder(kv: Any, table: MemoryTable, me: str, **kwargs: Any) -> Seeder:
    return Seeder(
        kv, table, table="t", me=me, rows=500, claim_timeout_s=30, poll_interval_s=0.01, **kwargs
    )


async def test_concurrent_replicas_seed_once() -> None:
    kv, table = MemoryKV(), MemoryTable(NOW)
    outcomes = await asyncio.gather(*(seeder(kv, table, f"r{i}").run() for i in range(5)))
    assert table.writers == [500]
    assert sum(o.seeded for o in outcomes) == 1
    assert len({o.by for o in outcomes}) == 1


async def test_recreated_table_is_seeded_again() -> None:
    kv, table = MemoryKV(), MemoryTable(NOW)
    await seeder(kv, table, "r1").run()
    table.created = NOW + timedelta(hours=1)
    outcome = await seeder(kv, table, "r2").run()
    assert outcome.seeded
    assert table.writers == [500, 500]


async def test_force_seeds_again() -> None:
    kv, table = MemoryKV(), MemoryTable(NOW)
    await seeder(kv, table, "r1").run()
    assert (await seeder(kv, table, "r2").run(force=True)).seeded
    assert not (await seeder(kv, table, "r3").run()).seeded


async def test_a_stale_claim_is_taken_over_by_a_waiting_replica() -> None:
    kv, table = MemoryKV(), MemoryTable(NOW)
    abandoned = SeedMarker(
        SeedState.CLAIMED, NOW.isoformat(), 500, "crashed", (NOW - timedelta(minutes=5)).isoformat()
    )
    await kv.create("seed.t", abandoned.encode())
    outcome = await seeder(kv, table, "r1", clock=lambda: NOW).run()
    assert outcome.seeded
    assert SeedMarker.decode((await kv.get("seed.t")).value) is not None


async def test_a_lost_claim_stops_the_seeder() -> None:
    kv, table = MemoryKV(), MemoryTable(NOW)
    clock = [NOW]
    s = Seeder(
        kv,
        table,
        table="t",
        me="slow",
        rows=5000,
        claim_timeout_s=0.004,
        poll_interval_s=0.01,
        clock=lambda: clock[0],
    )

    async def steal() -> None:
        while "seed.t" not in kv.entries:
            await asyncio.sleep(0)
        entry = kv.entries["seed.t"]
        await kv.update("seed.t", b"stolen", entry.revision)

    with pytest.raises(KeyWrongLastSequenceError):
        await asyncio.gather(s.run(), steal())


async def test_a_marker_with_a_bad_time_is_taken_over_and_the_table_seeded() -> None:
    kv, table = MemoryKV(), MemoryTable(NOW)
    bad = {
        "state": "claimed",
        "table_created": NOW.isoformat(),
        "rows": 5,
        "by": "old",
        "at": "yesterday",
    }
    await kv.create("seed.t", json.dumps(bad).encode())
    outcome = await seeder(kv, table, "r1", clock=lambda: NOW).run()
    assert outcome.seeded
    assert table.writers == [500]
