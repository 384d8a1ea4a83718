"""Connecting as a NATS user the way every client of the stack must: with the user's private
inbox prefix, the only one its permissions let it subscribe under."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nats
from nats.aio.client import Client, RawCredentials

from service import names
from service.credentials import parse_credentials


def creds_text(creds: Path | str, *, raw: bool) -> str:
    return str(creds) if raw else Path(creds).read_text()


async def connect_user(url: str, creds: Path | str, *, raw: bool = False, **options: Any) -> Client:
    """`creds` is a .creds path, or with `raw` the file's text."""
    text = creds_text(creds, raw=raw)
    prefix = parse_credentials(text, source="test creds").inbox_prefix or names.INBOX_PREFIX
    return await nats.connect(
        url, user_credentials=RawCredentials(text), inbox_prefix=prefix, **options
    )
