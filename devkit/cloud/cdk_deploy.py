"""`invoke deploy --with cdk` and `invoke destroy --with cdk`: the CDK path, with the Copilot
path's preflight (manifests, the creds file, one region, the AWS account), the template
synthesized and nag-checked offline first, the secret put only when it changed, then
`cdk deploy`. `--dry-run` prints the plan with no AWS access at all.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
from botocore.exceptions import ClientError

from devkit.cloud.aws import DeployError, Say, Target, caller_identity, deploy_region
from devkit.cloud.aws import store_credentials as put_credentials
from devkit.cloud.cdk_app import ENVIRONMENT_CONTEXT, EXISTING_TABLE_CONTEXT, synthesize
from devkit.cloud.cdk_cli import CDK_CLI_VERSION, cli_path, ensure_cdk_cli, installed_version
from devkit.cloud.cdk_nag_rules import SUPPRESSIONS
from devkit.cloud.deploy import encoded_credentials, validate_manifests
from devkit.cloud.service_spec import ServiceSpec, load_service_spec
from devkit.project import ROOT

if TYPE_CHECKING:  # stubs are a development dependency
    from types_boto3_ssm import SSMClient

BOOTSTRAP_PARAMETER = "/cdk-bootstrap/hnb659fds/version"
"""Written by `cdk bootstrap`; without it `cdk deploy` cannot publish the image."""
CDK_OUT = ROOT / "cdk.out"


def cdk_arguments(spec: ServiceSpec, existing_table: str) -> list[str]:
    """What every CLI call shares: the app, its output folder, and the context it reads."""
    args = [
        "--app", f"{sys.executable} -m devkit.cloud.cdk_app", "--output", str(CDK_OUT),
        "--context", f"{ENVIRONMENT_CONTEXT}={spec.environment}",
    ]  # fmt: skip
    if existing_table:
        args += ["--context", f"{EXISTING_TABLE_CONTEXT}={existing_table}"]
    return args


def deploy(
    *,
    environment: str,
    creds: Path,
    dry_run: bool,
    init: bool = False,
    existing_table: str = "",
    say: Say = print,
    environ: Mapping[str, str] = os.environ,
) -> None:
    say("preflight: checking the copilot manifests (the CDK app reads the same settings)")
    validate_manifests()
    spec = load_service_spec(environment)
    value = encoded_credentials(creds)
    say(f"preflight: {creds} is a NATS user creds file, not the local stack's")
    region = deploy_region(environ, boto3.session.Session().region_name)
    template = synthesize(spec, existing_table=existing_table)
    say(
        f"synthesized {spec.stack_name} offline: {len(template['Resources'])} resources,"
        f" cdk-nag AwsSolutions clean ({len(SUPPRESSIONS)} suppressions, each with a reason)"
    )
    target = Target(spec.application, spec.environment)
    deploy_args = ["deploy", spec.stack_name, "--require-approval", "never"]
    if dry_run:
        _say_plan(spec, region, [*deploy_args, *cdk_arguments(spec, existing_table)], init, say)
        return
    cdk = ensure_cdk_cli()
    session = boto3.session.Session(region_name=region)
    account, arn = caller_identity(session)
    say(f"preflight: AWS account {account} ({arn}), region {region}")
    ssm = session.client("ssm")
    cli_env = {
        **os.environ,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "CDK_DEFAULT_ACCOUNT": account,
        "CDK_DEFAULT_REGION": region,
    }
    if not bootstrapped(ssm):
        if not init:
            raise DeployError(
                f"the CDK is not bootstrapped in {account}/{region} yet: run invoke deploy"
                " --with cdk --init"
            )
        run(cdk, ["bootstrap", f"aws://{account}/{region}"], say=say, env=cli_env)
    action = put_credentials(ssm, target, value, say=say)
    run(cdk, [*deploy_args, *cdk_arguments(spec, existing_table)], say=say, env=cli_env)
    if action != "unchanged":  # ECS reads secrets only when a task starts
        restart_tasks(session, spec.stack_name, say=say)


def _say_plan(spec: ServiceSpec, region: str, deploy_args: list[str], init: bool, say: Say) -> None:
    say(f"would check: the AWS account (sts:GetCallerIdentity), region {region}")
    say(f"would check: the CDK bootstrap ({BOOTSTRAP_PARAMETER}) in {region}")
    if init:
        say("would run, unless it is there already: cdk bootstrap aws://<account>/" + region)
    say(
        f"would call ssm:PutParameter {spec.secret_parameter} (SecureString), unless it already"
        " holds these creds"
    )
    if installed_version(cli_path()) != CDK_CLI_VERSION:
        say(f"would install: aws-cdk@{CDK_CLI_VERSION} into {cli_path().parent.parent.parent}")
    say("would run: " + shlex.join(["cdk", *deploy_args]))
    say("would restart the tasks (ecs:UpdateService --force-new-deployment) if the creds changed")


def bootstrapped(ssm: SSMClient) -> bool:
    try:
        ssm.get_parameter(Name=BOOTSTRAP_PARAMETER)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ParameterNotFound":
            return False
        raise DeployError(f"cannot read {BOOTSTRAP_PARAMETER}: {error}") from None
    return True


def restart_tasks(session: boto3.session.Session, stack: str, *, say: Say) -> None:
    outputs = session.client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]
    found = {o["OutputKey"]: o["OutputValue"] for o in outputs.get("Outputs", [])}
    say(f"ecs:UpdateService {found['ServiceName']} --force-new-deployment (the creds changed)")
    session.client("ecs").update_service(
        cluster=found["ClusterName"], service=found["ServiceName"], forceNewDeployment=True
    )


def destroy(*, environment: str, dry_run: bool, existing_table: str = "", say: Say = print) -> None:
    spec = load_service_spec(environment)
    args = ["destroy", spec.stack_name, "--force", *cdk_arguments(spec, existing_table)]
    if dry_run:
        say("would run: " + shlex.join(["cdk", *args]))
    else:
        run(ensure_cdk_cli(), args, say=say, env=dict(os.environ))
    say(
        "The balances table was kept (RemovalPolicy RETAIN): customer data survives; deploy"
        " with --existing-table NAME to serve from it again. The SSM parameter stays too."
    )


def run(cdk: Path, args: list[str], *, say: Say, env: dict[str, str]) -> None:
    say("running: " + shlex.join(["cdk", *args]))
    result = subprocess.run([str(cdk), *args], cwd=ROOT, env=env, check=False)
    if result.returncode != 0:
        raise DeployError(f"`cdk {' '.join(args[:2])}` failed with exit code {result.returncode}")
