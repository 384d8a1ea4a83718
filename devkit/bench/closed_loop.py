"""The closed loop the baseline and the floors share: `concurrency` callers, each calling again
as soon as its call returned, for a fixed time."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from botocore.exceptions import BotoCoreError, ClientError
from nats.errors import Error as NatsError

FAILED_CALL = (BotoCoreError, ClientError, NatsError, OSError, TimeoutError)
"""What a DynamoDB or NATS call raises when it failed; anything else is a fault of the
measurement itself and ends it."""


@dataclass(frozen=True)
class Counted:
    units: int
    """What the calls did (requests answered, items read); failed calls count nothing."""
    seconds: float

    @property
    def per_second(self) -> float:
        return self.units / self.seconds if self.seconds else 0.0


async def count_calls(
    concurrency: int, duration_s: float, call: Callable[[int], Awaitable[int]]
) -> Counted:
    """Run `concurrency` loops of `call` for `duration_s` (the figure is capacity, and an
    overloaded endpoint shows as a lower one)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + duration_s
    done = 0

    async def worker(number: int) -> None:
        nonlocal done
        index = number
        while loop.time() < deadline:
            try:
                units = await call(index)  # read `done` only after the await: no lost updates
                done += units
            except FAILED_CALL:  # a failed call adds no capacity; back off a little
                await asyncio.sleep(0.01)
            finally:
                index += concurrency

    started = loop.time()
    await asyncio.gather(*(worker(n) for n in range(concurrency)))
    return Counted(done, loop.time() - started)
