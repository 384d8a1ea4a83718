"""The retry policy for calls to DynamoDB and for the bootstrap's JetStream calls: few attempts,
inside a time budget (an event publish retries on its own terms: service.events.retry_wait)."""

from __future__ import annotations

from collections.abc import Callable

from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_random_exponential,
)


def bounded_retries(
    *, attempts: int, budget_s: float, retryable: Callable[[BaseException], bool]
) -> AsyncRetrying:
    """Full-jitter exponential backoff (20 ms, 40 ms, ... at most 0.5 s) that stops at `attempts` or `budget_s`, then re-raises."""
    return AsyncRetrying(
        stop=stop_after_attempt(attempts) | stop_after_delay(budget_s),
        wait=wait_random_exponential(multiplier=0.02, max=0.5),
        retry=retry_if_exception(retryable),
        reraise=True,
    )
