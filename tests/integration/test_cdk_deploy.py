"""`invoke deploy --with cdk` and `invoke destroy --with cdk` as a person runs them: the plan
with no AWS access at all, usage errors as one line and exit 2, and the pinned CDK CLI."""

from __future__ import annotations

from pathlib import Path

import pytest

from devkit.auth.security import ensure_security
from devkit.cloud.cdk_cli import (
    CDK_CLI_VERSION,
    CdkCliError,
    cli_path,
    ensure_cdk_cli,
    installed_version,
)
from tests.support.commands import clean_environment, invoke

pytestmark = pytest.mark.integration

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


def test_the_pinned_cdk_cli_installs_into_the_virtual_environment() -> None:
    """The first real `deploy --with cdk` does this; npm's cache makes later runs instant."""
    cdk = ensure_cdk_cli()
    assert installed_version(cdk) == CDK_CLI_VERSION
    assert cdk == cli_path()  # beside this Python, not a global install
