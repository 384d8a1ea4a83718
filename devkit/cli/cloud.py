"""The cloud tasks (`invoke deploy`, `destroy`, `cp-*`, `cloud-*`), which `tasks.py` adds to its
namespace: each parses its flags and calls into devkit.cloud, imported when a task runs (the
control-plane client's HTTP and the provisioning's NATS libraries cost `invoke --list` nothing;
issue #27)."""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING

from invoke.context import Context
from invoke.exceptions import Exit
from invoke.tasks import task

from devkit import flags, platform_names
from devkit.cli.friendly_task import FriendlyTask

if TYPE_CHECKING:
    from devkit.controlplane.client import ControlPlane

DEFAULT_API_URL = platform_names.CONTROLPLANE_API_URL

API_HELP = {
    "api_url": f"the control-plane API (default {DEFAULT_API_URL}; `local` for the local twin)",
    "token_file": "a file holding the personal access token (default: SYNADIA_TOKEN)",
    "system": "the system's id (default: the only system the token can see)",
}


def _control_plane(api_url: str, token_file: str) -> ControlPlane:
    from devkit.cloud.session import api_url_for, open_control_plane
    from devkit.stack.running import current_config

    stack = current_config()
    return open_control_plane(api_url_for(api_url, stack), token_file, os.environ, stack)


@task(klass=FriendlyTask, name="cp-list", help=API_HELP)
def cp_list(
    c: Context, api_url: str = DEFAULT_API_URL, token_file: str = "", system: str = ""
) -> None:
    """List the accounts of a Synadia Cloud system (or of the local twin's)."""
    from devkit.cloud import accounts
    from devkit.cloud.session import choose_system

    with _control_plane(api_url, token_file) as control_plane:
        chosen = choose_system(control_plane, system)
        print(accounts.render_accounts(chosen, control_plane.accounts(chosen.id)))


@task(klass=FriendlyTask, name="cp-create", help={"name": "the account's name", **API_HELP})
def cp_create(
    c: Context,
    name: str = "",
    api_url: str = DEFAULT_API_URL,
    token_file: str = "",
    system: str = "",
) -> None:
    """Create an account; refused, before any write, when one of that name exists."""
    from devkit.cloud import accounts
    from devkit.cloud.session import account_name, choose_system

    if not name.strip():
        raise flags.FlagError("cp-create needs the account's name: invoke cp-create --name NAME")
    account_name("--name", name)
    with _control_plane(api_url, token_file) as control_plane:
        created = accounts.create_account(control_plane, choose_system(control_plane, system), name)
        print(f"Created account {created.name} ({created.id})")


@task(klass=FriendlyTask, name="cp-delete", help={"name": "the account's name", **API_HELP})
def cp_delete(
    c: Context,
    name: str = "",
    api_url: str = DEFAULT_API_URL,
    token_file: str = "",
    system: str = "",
) -> None:
    """Delete an account by name, and everything in it."""
    from devkit.cloud import accounts
    from devkit.cloud.session import choose_system

    if not name.strip():
        raise flags.FlagError("cp-delete needs the account's name: invoke cp-delete --name NAME")
    with _control_plane(api_url, token_file) as control_plane:
        deleted = accounts.delete_account(control_plane, choose_system(control_plane, system), name)
        print(f"Deleted account {deleted.name} ({deleted.id})")


UP_HELP = {
    "account": f"the account to make or complete (default {platform_names.APP_ACCOUNT_NAME})",
    "dry_run": "print the plan from reads only; change nothing",
    **API_HELP,
}


@task(klass=FriendlyTask, name="cloud-up", help=UP_HELP)
def cloud_up(
    c: Context,
    account: str = platform_names.APP_ACCOUNT_NAME,
    dry_run: bool = False,
    api_url: str = DEFAULT_API_URL,
    token_file: str = "",
    system: str = "",
) -> None:
    """Make the whole cloud side: account, users, creds, bucket, stream, gateway token, contexts."""
    from devkit.auth import contexts
    from devkit.cloud.ledger import CloudFiles, cloud_dir
    from devkit.cloud.provision import CloudUp
    from devkit.cloud.session import account_name, choose_system

    account_name("--account", account)
    with _control_plane(api_url, token_file) as control_plane:
        chosen = choose_system(control_plane, system)
        files = CloudFiles(control_plane.api_url, account, cloud_dir(os.environ))
        up = CloudUp(control_plane, chosen, account, files, contexts.config_dir(os.environ), print)
        if dry_run:
            up.plan(account)
            return
        try:
            changes = up.run(account)
        except KeyboardInterrupt:  # the ledger already holds what this run meant to make
            raise Exit(
                "interrupted: run `invoke cloud-up` again to finish, or `invoke cloud-down` to"
                " remove what this run made",
                code=130,
            ) from None
        print(f"Done: {changes} made." if changes else "Nothing changed: it was all there.")
        print(f"Creds and the gateway token are in {files.directory}/ (0600).")


@task(
    klass=FriendlyTask,
    name="cloud-down",
    help={
        "account": f"the account cloud-up made or completed (default {platform_names.APP_ACCOUNT_NAME})",
        "dry_run": "print what would be removed",
        **API_HELP,
    },
)
def cloud_down(
    c: Context,
    account: str = platform_names.APP_ACCOUNT_NAME,
    dry_run: bool = False,
    api_url: str = DEFAULT_API_URL,
    token_file: str = "",
    system: str = "",
) -> None:
    """Remove what cloud-up made (and only that), newest first."""
    from devkit.auth import contexts
    from devkit.cloud.ledger import CloudFiles, cloud_dir
    from devkit.cloud.session import account_name
    from devkit.cloud.teardown import cloud_down as cloud_down_run

    account_name("--account", account)
    with _control_plane(api_url, token_file) as control_plane:
        files = CloudFiles(control_plane.api_url, account, cloud_dir(os.environ))
        ledger = files.load(control_plane.api_url, account)
        if not ledger.made:
            print(
                f"Nothing to remove: cloud-up made nothing for {account} at {control_plane.api_url}."
            )
            return
        if dry_run:
            for made in reversed(ledger.made):
                print(f"- would remove {made.kind} {made.name}")
            return
        removed = cloud_down_run(
            control_plane, ledger, files, contexts.config_dir(os.environ), print
        )
        print(f"Removed {removed} of what cloud-up made.")


DEPLOY_PATHS = ("copilot", "cdk")
"""How the service reaches AWS; Copilot stays the default (README, "Deploy to AWS")."""


def _deploy_path(value: str) -> str:
    if value not in DEPLOY_PATHS:
        raise flags.FlagError(f"--with takes {' or '.join(DEPLOY_PATHS)}, not {value!r}")
    return value


@task(
    klass=FriendlyTask,
    help={
        "env": "Copilot environment, or the CDK stack's (default dev)",
        "creds": "the Synadia Cloud service user's .creds file (or CLOUD_SERVICE_CREDS)",
        "dry_run": "print every step, with no AWS access at all",
        "init": "create what is missing first (Copilot: app, environment, service; CDK: bootstrap)",
        "with_": "copilot (default) or cdk: the same service on Fargate either way",
        "existing_table": "CDK only: serve from this retained table instead of creating one",
    },
)
def deploy(
    c: Context,
    env: str = "dev",
    creds: str = "",
    dry_run: bool = False,
    init: bool = False,
    with_: str = "copilot",
    existing_table: str = "",
) -> None:
    """Deploy the service to AWS Fargate with Copilot (or --with cdk), against Synadia Cloud."""
    from devkit.auth import contexts
    from devkit.cloud.deploy import DeployError

    path_kind = _deploy_path(with_)
    environment = flags.environment_name("--env", env)
    if existing_table and path_kind != "cdk":
        raise flags.FlagError(
            "--existing-table is for --with cdk; Copilot reads copilot/balance/addons/"
            "addons.parameters.yml"
        )
    if existing_table and not re.fullmatch(r"[A-Za-z0-9_.-]{3,255}", existing_table):
        raise flags.FlagError(f"--existing-table {existing_table!r} is not a DynamoDB table name")
    path = contexts.path_option(creds, os.environ, "CLOUD_SERVICE_CREDS")
    if path is None:
        raise DeployError("give --creds PATH (the service user's .creds) or CLOUD_SERVICE_CREDS")
    if path_kind == "cdk":
        from devkit.cloud.cdk_cli import require_node

        require_node()
        from devkit.cloud import cdk_deploy

        cdk_deploy.deploy(
            environment=environment,
            creds=path,
            dry_run=dry_run,
            init=init,
            existing_table=existing_table,
        )
        return
    from devkit.cloud.deploy import deploy as run_deploy

    run_deploy(environment=environment, creds=path, dry_run=dry_run, init=init)


@task(
    klass=FriendlyTask,
    help={
        "env": "Copilot environment, or the CDK stack's (default dev)",
        "dry_run": "print without doing it",
        "with_": "copilot (default) or cdk: the path the service was deployed with",
    },
)
def destroy(c: Context, env: str = "dev", dry_run: bool = False, with_: str = "copilot") -> None:
    """Remove the service from AWS; its balances table is kept."""
    path_kind = _deploy_path(with_)
    environment = flags.environment_name("--env", env)
    if path_kind == "cdk":
        from devkit.cloud.cdk_cli import require_node

        require_node()
        from devkit.cloud import cdk_deploy

        cdk_deploy.destroy(environment=environment, dry_run=dry_run)
        return
    from devkit.cloud.deploy import destroy as run_destroy

    run_destroy(environment=environment, dry_run=dry_run)


TASKS = (cp_list, cp_create, cp_delete, cloud_up, cloud_down, deploy, destroy)
