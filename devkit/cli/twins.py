"""The local twins of Synadia Cloud's services: `invoke token` prints the HTTP gateway twin's
token for a NATS user."""

from __future__ import annotations

from invoke.context import Context
from invoke.tasks import task

from devkit.cli.friendly_task import FriendlyTask


@task(klass=FriendlyTask, help={"user": "the NATS user the token stands for (default client)"})
def token(c: Context, user: str = "client") -> None:
    """Print the local HTTP gateway's token for a NATS user (use it as Authorization: <token>)."""
    from devkit.stack.running import current_config, gateway_token

    print(gateway_token(current_config(), user))


TASKS = (token,)
