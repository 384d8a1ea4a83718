"""Talking to the running service: `invoke req` asks it for a balance, `invoke events` reads
the answers it recorded (as the reader user, the data platform's seat).

The NATS client is imported when a task runs, not when `invoke` lists its tasks (issue #27).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path

from invoke.context import Context
from invoke.exceptions import Exit
from invoke.tasks import task

from devkit import flags
from devkit.cli.friendly_task import FriendlyTask


def reader_target(context: str) -> tuple[str, Path | None]:
    """Where `invoke events` reads: a NATS CLI context, or the local stack's reader user."""
    from devkit.auth import contexts
    from devkit.stack.running import running_config

    if context:
        target = contexts.read_context(contexts.config_dir(os.environ), context)
        return target.url, target.creds
    config = running_config()
    return config.nats_url, config.reader_creds


@task(
    klass=FriendlyTask,
    help={"client_id": "the customer id, e.g. 678", "timeout": "seconds to wait (default 5)"},
)
def req(c: Context, client_id: str, timeout: str = "5") -> None:
    """Ask the running service for a balance; prints the raw reply, exits 1 on an error reply."""
    from devkit.caller import call_once
    from devkit.stack.running import running_config

    seconds = flags.positive_number("--timeout", timeout, unit="seconds")
    config = running_config()
    reply = asyncio.run(
        call_once(config.nats_url, client_id, creds=config.client_creds, timeout_s=seconds)
    )
    if not reply.ok:
        raise Exit(reply.describe(), code=1)
    print(reply.describe())


@task(
    klass=FriendlyTask,
    help={
        "last": "how many of the newest events to show first (default 10; 0 for none)",
        "follow": "then keep printing new events until Ctrl-C",
        "client_id": "only this customer's events",
        "context": "read through this NATS CLI context (e.g. cloud-reader); default the local"
        " stack's reader user",
    },
)
def events(
    c: Context, last: str = "10", follow: bool = False, client_id: str = "", context: str = ""
) -> None:
    """Print the recorded answers as JSON lines, read as the reader user (the data platform)."""
    from devkit.recorded_answers import EventQuery, check_client_id, read_events

    query = EventQuery(
        last=flags.whole_number("--last", last, minimum=0),
        client_id=check_client_id(client_id),
        follow=follow,
    )
    url, creds = reader_target(context)
    with contextlib.suppress(KeyboardInterrupt):  # --follow ends with Ctrl-C
        asyncio.run(read_events(url, creds, query, lambda line: print(line, flush=True)))


TASKS = (req, events)
