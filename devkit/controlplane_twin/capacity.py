"""The local nats-server's JetStream is finite: every account with JetStream reserves its limits
from the server's disk and memory, and the server refuses a reservation it has no room for
silently (the account is made, its JetStream calls fail). What an account asks for, and the
refusal the twin answers instead."""

from __future__ import annotations

from devkit.auth.jwt import Claims
from devkit.auth.permissions import MIB
from devkit.controlplane_twin.server_side import ServerAnswer


def _tiers(limits: Claims) -> list[Claims]:
    return [limits, *(limits.get("tiered_limits") or {}).values()]


def asks_for_jetstream(limits: Claims) -> bool:
    return any(tier.get("disk_storage", 0) or tier.get("mem_storage", 0) for tier in _tiers(limits))


def reservation(limits: Claims) -> tuple[int, int]:
    """Disk and memory bytes the account asks for (-1, unlimited, reserves nothing)."""
    tiers = _tiers(limits)
    disk = sum(max(0, tier.get("disk_storage", 0)) for tier in tiers)
    return disk, sum(max(0, tier.get("mem_storage", 0)) for tier in tiers)


def no_room(limits: Claims, others: list[Claims], report: ServerAnswer) -> str:
    """The 400's message: what was asked, the server's totals (its JSZ report, when it gave
    one), and what the twin's other accounts hold."""
    config = report.get("config") or {}
    disk, memory = reservation(limits)
    held = [reservation(other) for other in others]
    return (
        f"jwt_settings.limits: the local nats-server has no room for this account's JetStream"
        f" ({disk // MIB} MiB of disk, {memory // MIB} MiB of memory): every account reserves"
        f" its limits from the server's {config.get('max_storage', 0) // MIB} MiB of disk"
        f" and {config.get('max_memory', 0) // MIB} MiB of memory, and the twin's"
        f" {len(held)} accounts hold {sum(d for d, _ in held) // MIB} MiB and"
        f" {sum(m for _, m in held) // MIB} MiB of them besides the stack's own; ask for"
        f" less, or delete an account"
    )
