"""How many replicas this machine can run: a bound stated with its reason, checked before
anything starts or is saved (`invoke up -r 100000` once ran for minutes and left hundreds)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from devkit.flags import FlagError

REPLICA_MEMORY_BYTES: Final = 120 * 1024 * 1024
"""What one replica may take: about 60 MB resident after start-up (measured), doubled for its
peak under load and for the page cache its log needs."""
REPLICAS_PER_CPU: Final = 16
"""Each replica is one asyncio process; past about 16 per CPU they only queue for the CPU
(and start-up, ~0.5 s of CPU each, slows to minutes)."""


@dataclass(frozen=True)
class ReplicaBound:
    limit: int
    reason: str


def replica_bound(*, cpus: int, available_bytes: int, running_replicas: int) -> ReplicaBound:
    """The smaller of the CPU bound and the memory bound (counting the memory the running
    replicas hold as theirs to keep)."""
    by_cpu = max(1, cpus * REPLICAS_PER_CPU)
    usable = available_bytes + running_replicas * REPLICA_MEMORY_BYTES
    by_memory = max(1, usable // REPLICA_MEMORY_BYTES)
    megabytes = REPLICA_MEMORY_BYTES // (1024 * 1024)
    if by_memory < by_cpu:
        return ReplicaBound(
            by_memory,
            f"{usable // (1024 * 1024)} MB of memory available at {megabytes} MB per replica",
        )
    return ReplicaBound(by_cpu, f"{cpus} CPUs at {REPLICAS_PER_CPU} replicas per CPU")


def machine_bound(running_replicas: int) -> ReplicaBound:
    return replica_bound(
        cpus=os.cpu_count() or 1,
        available_bytes=available_memory(),
        running_replicas=running_replicas,
    )


def available_memory(meminfo: Path = Path("/proc/meminfo")) -> int:
    """MemAvailable in bytes; without /proc (macOS), the physical memory."""
    try:
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def check_replicas(asked: int, bound: ReplicaBound) -> None:
    if asked > bound.limit:
        raise FlagError(
            f"--replicas {asked} is more than this machine can run: at most {bound.limit}"
            f" ({bound.reason})"
        )
