"""How full the event stream is, for `invoke status`: a full stream discards its oldest events."""

from __future__ import annotations

from pathlib import Path

from nats.errors import Error as NatsError
from nats.js.errors import NotFoundError
from pydantic import BaseModel, computed_field

from devkit.caller import CallError, connect_client
from service import names

FULL_AT = 0.95
"""A stream this full of its max_bytes is discarding its oldest events (discard old)."""


class StreamUsage(BaseModel):
    name: str
    messages: int
    bytes: int
    max_bytes: int
    first_seq: int

    @computed_field  # type: ignore[prop-decorator]  # pydantic's documented use
    @property
    def discarding(self) -> bool:
        return self.max_bytes > 0 and self.bytes >= FULL_AT * self.max_bytes

    def describe(self) -> str:
        mib = 1024 * 1024
        line = (
            f"stream {self.name}: {self.messages:,} events,"
            f" {self.bytes / mib:.1f} of {self.max_bytes / mib:.1f} MiB"
        )
        if self.discarding:
            line += (
                "; warning: full, the oldest events are being discarded"
                " (raise STREAM_MAX_BYTES, then update the stream)"
            )
        return line


async def stream_usage(url: str, creds: Path | None) -> StreamUsage | None:
    """None when NATS or the stream cannot be read (the stack is down or starting)."""
    try:
        nc = await connect_client(url, name="customer-status", creds=creds, connect_timeout_s=1)
    except CallError:
        return None
    try:
        info = await nc.jetstream(timeout=2).stream_info(names.STREAM_NAME)
    except (NotFoundError, NatsError, TimeoutError):
        return None
    finally:
        await nc.close()
    return StreamUsage(
        name=names.STREAM_NAME,
        messages=info.state.messages,
        bytes=info.state.bytes,
        max_bytes=info.config.max_bytes or 0,
        first_seq=info.state.first_seq,
    )
