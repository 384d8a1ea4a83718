"""The NATS CLI: `invoke nats-cli` installs the pinned one, `invoke context` writes its contexts
for the local stack (and for Synadia Cloud, given creds). Their modules are imported when a task
runs (issue #27)."""

from __future__ import annotations

import os

from invoke.context import Context
from invoke.tasks import task

from devkit.cli.friendly_task import FriendlyTask


@task(
    klass=FriendlyTask,
    help={
        "select": "select this context afterwards (e.g. local-client)",
        "remove": "delete the contexts this task wrote, and nothing else",
        "cloud_service_creds": "Synadia Cloud service user's .creds (or CLOUD_SERVICE_CREDS)",
        "cloud_client_creds": "Synadia Cloud client user's .creds (or CLOUD_CLIENT_CREDS)",
    },
)
def context(
    c: Context,
    select: str = "",
    remove: bool = False,
    cloud_service_creds: str = "",
    cloud_client_creds: str = "",
) -> None:
    """Write NATS CLI contexts local-service/-client/-admin/-reader (and cloud-* given creds)."""
    from devkit.auth import contexts
    from devkit.stack.running import current_config

    directory = contexts.config_dir(os.environ)
    if remove:
        removed = contexts.remove_ours(directory)
        print(f"Removed: {', '.join(removed)}" if removed else "No contexts of ours to remove.")
        return
    config = current_config()
    if not config.client_creds.exists():
        raise contexts.ContextError("no local creds yet: run `invoke up` first")
    wanted = contexts.local_contexts(
        config.nats_url,
        config.service_creds,
        config.client_creds,
        config.admin_creds,
        config.reader_creds,
    )
    wanted += contexts.cloud_contexts(
        contexts.path_option(cloud_service_creds, os.environ, "CLOUD_SERVICE_CREDS"),
        contexts.path_option(cloud_client_creds, os.environ, "CLOUD_CLIENT_CREDS"),
    )
    contexts.check_selectable(directory, select, wanted)  # before anything is written
    for path in contexts.write_contexts(directory, wanted):
        print(f"Wrote {path}")
    if select:
        contexts.select(directory, select)
        print(f'Selected {select}: try  nats req customer.balance \'{{"client_id":"678"}}\'')


@task(klass=FriendlyTask, name="nats-cli")
def nats_cli(c: Context) -> None:
    """Install the pinned NATS CLI (natscli v0.5.0) into this virtual environment (Go needed)."""
    from devkit.auth.natscli import ensure_nats_cli

    print(f"NATS CLI: {ensure_nats_cli()}")
    print("Contexts for it come from `invoke context` (then: nats --context local-client ...).")


TASKS = (context, nats_cli)
