"""What a benchmark run is asked to do: the service's address and the load plan, validated
before any I/O."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from devkit.flags import FlagError
from service.operator_errors import OperatorError


class BenchError(OperatorError):
    """The benchmark cannot run as asked; the message says why."""


@dataclass(frozen=True)
class ServiceAddress:
    """Where, and as whom, the benchmark reaches the service: a NATS URL and creds, or the HTTP
    gateway and a token."""

    url: str
    creds: Path | None
    http_token: str | None = None
    """Set: `url` is an HTTP gateway and requests go through it with this token."""


@dataclass(frozen=True)
class LoadPlan:
    requests: int
    concurrency: int
    timeout_s: float
    ids: tuple[str, ...]
    clients: int = 1
    rate: float | None = None
    warmup: int = 0


def parse_ids(spec: str) -> tuple[str, ...]:
    """`1..1000`, `a,b,c`, or a mix: `1..10,vip`."""
    ids: list[str] = []
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        if ".." in part:
            first, last = part.split("..", 1)
            try:
                low, high = int(first), int(last)
            except ValueError:
                raise FlagError(
                    f"--ids range {part!r} must be two integers, like 1..1000"
                ) from None
            if low > high:
                raise FlagError(f"--ids range {part!r} is empty")
            ids.extend(str(n) for n in range(low, high + 1))
        else:
            ids.append(part)
    if not ids:
        raise FlagError("--ids names no customer")
    return tuple(ids)


def split(total: int, parts: int) -> list[int]:
    """Share `total` out as evenly as possible; no part is left empty unless total < parts."""
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]
