"""`invoke deploy --with cdk` and `invoke destroy --with cdk` as a person runs them: the plan
with no AWS access at all, usage errors as one line and exit 2, the pinned CDK CLI, and a deploy
against moto's STS, SSM, CloudFormation and ECS with a recording stand-in for `cdk`."""

from __future__ import annotations

import base64
import contextlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import boto3
import pytest

from devkit.auth.security import ensure_security
from devkit.cloud.cdk_app import synthesize
from devkit.cloud.cdk_cli import (
    CDK_CLI_VERSION,
    CdkCliError,
    cli_path,
    ensure_cdk_cli,
    installed_version,
)
from devkit.cloud.cdk_deploy import BOOTSTRAP_PARAMETER
from devkit.cloud.service_spec import load_service_spec
from devkit.stack.processes import stop_process
from devkit.stack.servers import start_moto
from tests.support.commands import ROOT, clean_environment, invoke

pytestmark = [
    pytest.mark.integration,
    pytest.mark.native_pass("the CDK path's proofs run in the native pass"),
]
"""Nothing here uses the local stack, so the container pass would only repeat it (CI time)."""


REGION = "eu-west-1"
PARAMETER = "/copilot/customer-balance/dev/secrets/nats_credentials"
STACK = "customer-balance-dev-balance-cdk"


def offline_environment(tmp_path: Path) -> dict[str, str]:
    """A region and nothing else of AWS's: no credentials, no profile, no config file."""
    return {
        **clean_environment(),
        "AWS_REGION": REGION,
        "AWS_CONFIG_FILE": "/nonexistent",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
        "AWS_EC2_METADATA_DISABLED": "true",
        "STACK_DIR": str(tmp_path / "stack"),
        "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
    }


def test_a_cdk_dry_run_synthesizes_and_needs_no_aws_access(tmp_path: Path) -> None:
    creds = ensure_security(tmp_path / "cloud").service_creds
    env = offline_environment(tmp_path)
    result = invoke(env, "deploy", "--with", "cdk", "--creds", str(creds), "--init", "--dry-run")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert any(
        line.startswith(f"synthesized {STACK} offline:") and "cdk-nag AwsSolutions clean" in line
        for line in lines
    )
    assert f"would check: the AWS account (sts:GetCallerIdentity), region {REGION}" in lines
    assert f"would run, unless it is there already: cdk bootstrap aws://<account>/{REGION}" in lines
    assert (
        f"would call ssm:PutParameter {PARAMETER} (SecureString), unless it already holds these"
        " creds"
    ) in lines
    [deploy_line] = [line for line in lines if line.startswith("would run: cdk deploy")]
    assert f"cdk deploy {STACK} --require-approval never" in deploy_line
    assert "--context environment=dev" in deploy_line


def test_a_cdk_destroy_dry_run_says_the_table_is_kept(tmp_path: Path) -> None:
    result = invoke(offline_environment(tmp_path), "destroy", "--with", "cdk", "--dry-run")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"would run: cdk destroy {STACK} --force" in result.stdout
    assert "table was kept" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("deploy", "--with", "terraform", "--dry-run"), "--with takes copilot or cdk"),
        (("destroy", "--with", "pulumi"), "--with takes copilot or cdk"),
        (("deploy", "--existing-table", "t", "--dry-run"), "--existing-table is for --with cdk"),
        (
            ("deploy", "--with", "cdk", "--existing-table", "no such", "--dry-run"),
            "is not a DynamoDB table name",
        ),
    ],
)
def test_a_wrong_deploy_path_is_a_usage_error(
    tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    result = invoke(offline_environment(tmp_path), *args)
    assert result.returncode == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_without_npm_the_cdk_cli_is_one_line_and_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(CdkCliError) as raised:
        ensure_cdk_cli(tmp_path / "node")
    assert raised.value.exit_code == 2
    assert "npm is not on PATH" in str(raised.value)


def test_without_node_the_cdk_path_is_one_line_and_exit_2(tmp_path: Path) -> None:
    env = {**offline_environment(tmp_path), "PATH": str(tmp_path / "empty")}
    result = invoke(env, "deploy", "--with", "cdk", "--creds", "any.creds", "--dry-run")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: the CDK path needs Node.js on PATH (aws-cdk-lib runs on it); install 22+"
    )


def test_the_pinned_cdk_cli_installs_into_the_virtual_environment() -> None:
    """The first real `deploy --with cdk` does this; npm's cache makes later runs instant."""
    cdk = ensure_cdk_cli()
    assert installed_version(cdk) == CDK_CLI_VERSION
    assert cdk == cli_path()  # beside this Python, not a global install


def test_the_pinned_cli_synthesizes_the_app_with_no_aws_access(tmp_path: Path) -> None:
    """`cdk synth` through the CLI: the app's entry point, and the CLI reading what the lib wrote."""
    out = tmp_path / "cdk.out"
    result = subprocess.run(
        [
            str(ensure_cdk_cli()),
            "synth",
            "--quiet",
            "--no-notices",
            "--app",
            f"{sys.executable} -m devkit.cloud.cdk_app",
            "--output",
            str(out),
            "--context",
            "environment=dev",
        ],
        cwd=ROOT,
        env={**offline_environment(tmp_path), "CDK_DISABLE_VERSION_CHECK": "1"},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    template = json.loads((out / f"{STACK}.template.json").read_text())
    [task] = [r for r in template["Resources"].values() if r["Type"] == "AWS::ECS::TaskDefinition"]
    image = json.dumps(task["Properties"]["ContainerDefinitions"][0]["Image"])
    assert "cdk-hnb659fds-container-assets" in image  # built from the Dockerfile, pushed to ECR
    [asset] = [p for p in out.iterdir() if p.name.startswith("asset.")]
    staged = sorted(p.name for p in asset.iterdir())  # only what .dockerignore lets through
    assert staged == [".dockerignore", "Dockerfile", "README.md", "pyproject.toml", "service"]


STAND_IN = """#!/bin/sh
if [ "$1" = "--version" ]; then echo "VERSION (build 0)"; exit 0; fi
printf '%s\\n' "$*" >> "$CDK_RECORD"
exit 0
"""


@pytest.fixture(scope="module")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    launched = start_moto(workdir=tmp_path_factory.mktemp("moto-cdk"))
    yield launched.endpoint
    stop_process(launched.pid)


def client(service: str, endpoint: str) -> Any:
    return boto3.client(
        cast(Any, service),  # one helper for several services: the stubs type each by name
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture(scope="module")
def deployed_stack(moto_endpoint: str) -> str:
    """The stack as `cdk deploy` would leave it, in moto's CloudFormation (the stand-in cdk
    deploys nothing): the deploy reads its outputs to restart the tasks."""
    spec = load_service_spec("dev")
    client("ssm", moto_endpoint).put_parameter(Name=BOOTSTRAP_PARAMETER, Value="30", Type="String")
    client("cloudformation", moto_endpoint).create_stack(
        StackName=STACK, TemplateBody=json.dumps(synthesize(spec)), Capabilities=["CAPABILITY_IAM"]
    )
    client("ssm", moto_endpoint).delete_parameter(Name=BOOTSTRAP_PARAMETER)
    return STACK


@pytest.fixture
def cdk_env(tmp_path: Path, moto_endpoint: str, deployed_stack: str) -> Iterator[dict[str, str]]:
    stand_in = tmp_path / "bin" / "cdk"
    stand_in.parent.mkdir()
    stand_in.write_text(STAND_IN.replace("VERSION", CDK_CLI_VERSION))
    stand_in.chmod(0o755)
    yield {
        **offline_environment(tmp_path),
        "AWS_CONFIG_FILE": "/nonexistent",
        "AWS_ENDPOINT_URL": moto_endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "CDK_CLI": str(stand_in),
        "CDK_RECORD": str(tmp_path / "cdk-calls.txt"),
    }
    ssm = client("ssm", moto_endpoint)
    for name in (PARAMETER, BOOTSTRAP_PARAMETER):
        with contextlib.suppress(ssm.exceptions.ParameterNotFound):
            ssm.delete_parameter(Name=name)


def cdk_calls(env: dict[str, str]) -> list[str]:
    path = Path(env["CDK_RECORD"])
    return [" ".join(c.split()[:3]) for c in path.read_text().splitlines()] if path.exists() else []


def test_a_cdk_deploy_bootstraps_only_with_init_then_puts_the_secret_and_deploys(
    cdk_env: dict[str, str], tmp_path: Path, moto_endpoint: str
) -> None:
    creds = ensure_security(tmp_path / "cloud").service_creds
    refused = invoke(cdk_env, "deploy", "--with", "cdk", "--creds", str(creds))
    assert refused.returncode == 1
    assert "the CDK is not bootstrapped in 123456789012/eu-west-1" in refused.stderr
    assert cdk_calls(cdk_env) == []

    result = invoke(cdk_env, "deploy", "--with", "cdk", "--creds", str(creds), "--init")
    assert result.returncode == 0, result.stdout + result.stderr
    assert cdk_calls(cdk_env) == [
        "bootstrap aws://123456789012/eu-west-1",
        f"deploy {STACK} --require-approval",
    ]
    stored = client("ssm", moto_endpoint).get_parameter(Name=PARAMETER, WithDecryption=True)
    assert base64.b64decode(stored["Parameter"]["Value"]) == creds.read_bytes()
    assert "--force-new-deployment (the creds changed)" in result.stdout


def test_a_second_cdk_deploy_with_the_same_creds_restarts_nothing(
    cdk_env: dict[str, str], tmp_path: Path, moto_endpoint: str
) -> None:
    client("ssm", moto_endpoint).put_parameter(Name=BOOTSTRAP_PARAMETER, Value="30", Type="String")
    creds = ensure_security(tmp_path / "cloud").service_creds
    assert invoke(cdk_env, "deploy", "--with", "cdk", "--creds", str(creds)).returncode == 0
    again = invoke(cdk_env, "deploy", "--with", "cdk", "--creds", str(creds))
    assert again.returncode == 0, again.stderr
    assert "already holds these creds" in again.stdout
    assert "force-new-deployment" not in again.stdout
    assert cdk_calls(cdk_env) == [f"deploy {STACK} --require-approval"] * 2


def test_a_cdk_destroy_runs_cdk_destroy_and_keeps_the_table(cdk_env: dict[str, str]) -> None:
    result = invoke(cdk_env, "destroy", "--with", "cdk")
    assert result.returncode == 0, result.stderr
    assert cdk_calls(cdk_env) == [f"destroy {STACK} --force"]
    assert "table was kept" in result.stdout
