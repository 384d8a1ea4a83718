"""`invoke deploy` and `invoke destroy` against moto's STS and SSM with a stand-in copilot that
records what it is asked: one region, a dry run with no AWS at all, --init that creates only
what is missing, --force when the creds changed, and the local stack's creds refused."""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from devkit.auth.security import ensure_security
from devkit.stack.processes import stop_process
from devkit.stack.servers import start_moto
from tests.support.commands import clean_environment, invoke, stand_in_path

pytestmark = pytest.mark.integration

REGION = "eu-west-1"
PARAMETER = "/copilot/customer-balance/dev/secrets/nats_credentials"
STORE = "/copilot/applications/customer-balance"
STAND_IN = """#!/bin/sh
printf '%s\\n' "$*" >> "$COPILOT_RECORD"
printf '%s\\n' "AWS_REGION=$AWS_REGION" >> "$COPILOT_RECORD.env"
if [ "$1" = "--version" ]; then echo "copilot version: v1.34.1"; fi
exit 0
"""


@pytest.fixture(scope="module")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    launched = start_moto(workdir=tmp_path_factory.mktemp("moto-aws"))
    yield launched.endpoint
    stop_process(launched.pid)


def ssm_client(endpoint: str, region: str = REGION) -> Any:
    return boto3.client(
        "ssm",
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture
def deploy_env(tmp_path: Path, moto_endpoint: str) -> Iterator[dict[str, str]]:
    """Only AWS_REGION, as the README says; copilot's records for app, dev and the service."""
    ssm = ssm_client(moto_endpoint)
    records = {
        STORE: json.dumps({"name": "customer-balance"}),
        f"{STORE}/environments/dev": json.dumps({"name": "dev", "region": REGION}),
        f"{STORE}/components/balance": json.dumps({"name": "balance"}),
    }
    for name, value in records.items():
        ssm.put_parameter(Name=name, Value=value, Type="String", Overwrite=True)
    yield {
        **clean_environment(),
        "PATH": stand_in_path(tmp_path / "bin", "copilot", STAND_IN),
        "COPILOT_RECORD": str(tmp_path / "copilot-calls.txt"),
        "AWS_ENDPOINT_URL": moto_endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": REGION,
        "STACK_DIR": str(tmp_path / "stack"),
    }
    for name in [*records, PARAMETER, f"{STORE}/environments/staging"]:
        with contextlib.suppress(ssm.exceptions.ParameterNotFound):
            ssm.delete_parameter(Name=name)


@pytest.fixture
def cloud_creds(tmp_path: Path) -> Path:
    """A service user's creds from another operator than the local stack's."""
    return ensure_security(tmp_path / "cloud").service_creds


def recorded(env: dict[str, str]) -> list[str]:
    path = Path(env["COPILOT_RECORD"])
    return [c for c in path.read_text().splitlines() if c != "--version"] if path.exists() else []


def test_a_dry_run_needs_no_aws_access_at_all(
    deploy_env: dict[str, str], cloud_creds: Path
) -> None:
    offline = {k: v for k, v in deploy_env.items() if not k.startswith("AWS_")}
    offline["AWS_REGION"] = REGION
    offline["AWS_CONFIG_FILE"] = offline["AWS_SHARED_CREDENTIALS_FILE"] = "/nonexistent"
    result = invoke(offline, "deploy", "--creds", str(cloud_creds), "--init", "--dry-run")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"would check: the AWS account (sts:GetCallerIdentity), region {REGION}" in result.stdout
    assert (
        f"would call ssm:PutParameter {PARAMETER} (SecureString, tags "
        "copilot-application=customer-balance, copilot-environment=dev)"
    ) in result.stdout
    plan = [line for line in result.stdout.splitlines() if line.startswith("would run")]
    assert plan == [
        "would run, unless Copilot has it already: copilot app init customer-balance",
        "would run, unless Copilot has it already: copilot env init --name dev --profile default"
        " --default-config",
        "would run, unless Copilot has it already: copilot env deploy --name dev",
        "would run, unless Copilot has it already: copilot svc init --name balance",
        "would run: copilot svc deploy --name balance --env dev (with --force when the creds"
        " changed)",
    ]
    assert recorded(offline) == []


def test_one_region_from_aws_region_for_the_secret_and_for_copilot(
    deploy_env: dict[str, str], cloud_creds: Path, moto_endpoint: str
) -> None:
    result = invoke(deploy_env, "deploy", "--creds", str(cloud_creds))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"region {REGION}" in result.stdout
    assert "account 123456789012" in result.stdout
    parameter = ssm_client(moto_endpoint).get_parameter(Name=PARAMETER, WithDecryption=True)
    assert base64.b64decode(parameter["Parameter"]["Value"]) == cloud_creds.read_bytes()
    tags = ssm_client(moto_endpoint).list_tags_for_resource(
        ResourceType="Parameter", ResourceId=PARAMETER
    )["TagList"]
    assert {t["Key"]: t["Value"] for t in tags} == {
        "copilot-application": "customer-balance",
        "copilot-environment": "dev",
    }
    assert recorded(deploy_env) == ["svc deploy --name balance --env dev --force"]
    assert (
        Path(deploy_env["COPILOT_RECORD"] + ".env").read_text().split()
        == ["AWS_REGION=eu-west-1"] * 2
    )


def test_a_second_deploy_with_the_same_creds_changes_nothing_and_does_not_force(
    deploy_env: dict[str, str], cloud_creds: Path, moto_endpoint: str
) -> None:
    assert invoke(deploy_env, "deploy", "--creds", str(cloud_creds)).returncode == 0
    version = ssm_client(moto_endpoint).get_parameter(Name=PARAMETER)["Parameter"]["Version"]
    again = invoke(deploy_env, "deploy", "--creds", str(cloud_creds))
    assert again.returncode == 0, again.stderr
    assert "already holds these creds" in again.stdout
    assert (
        ssm_client(moto_endpoint).get_parameter(Name=PARAMETER)["Parameter"]["Version"] == version
    )
    assert recorded(deploy_env)[-1] == "svc deploy --name balance --env dev"


def test_rotated_creds_restart_the_tasks(
    deploy_env: dict[str, str], cloud_creds: Path, tmp_path: Path
) -> None:
    assert invoke(deploy_env, "deploy", "--creds", str(cloud_creds)).returncode == 0
    rotated = ensure_security(tmp_path / "rotated").service_creds
    result = invoke(deploy_env, "deploy", "--creds", str(rotated))
    assert result.returncode == 0, result.stderr
    assert "overwrite: the creds changed" in result.stdout
    assert recorded(deploy_env)[-1] == "svc deploy --name balance --env dev --force"


def test_two_regions_are_refused_before_anything(
    deploy_env: dict[str, str], cloud_creds: Path
) -> None:
    env = {**deploy_env, "AWS_DEFAULT_REGION": "us-east-1"}
    result = invoke(env, "deploy", "--creds", str(cloud_creds))
    assert result.returncode == 1
    assert "AWS_REGION is eu-west-1 but AWS_DEFAULT_REGION is us-east-1" in result.stderr
    assert recorded(env) == []


def test_an_environment_in_another_region_is_refused(
    deploy_env: dict[str, str], cloud_creds: Path, moto_endpoint: str
) -> None:
    ssm_client(moto_endpoint).put_parameter(
        Name=f"{STORE}/environments/dev",
        Value=json.dumps({"name": "dev", "region": "ap-south-1"}),
        Type="String",
        Overwrite=True,
    )
    result = invoke(deploy_env, "deploy", "--creds", str(cloud_creds))
    assert result.returncode == 1
    assert "is in ap-south-1, not eu-west-1" in result.stderr
    assert recorded(deploy_env) == []


def test_init_creates_only_what_copilot_lacks_and_adds_an_environment(
    deploy_env: dict[str, str], cloud_creds: Path
) -> None:
    missing = invoke(deploy_env, "deploy", "--creds", str(cloud_creds), "--env", "staging")
    assert missing.returncode == 1
    assert "run invoke deploy --init" in missing.stderr
    added = invoke(deploy_env, "deploy", "--creds", str(cloud_creds), "--env", "staging", "--init")
    assert added.returncode == 0, added.stderr
    assert recorded(deploy_env) == [
        "env init --name staging --profile default --default-config",
        "env deploy --name staging",
        "svc deploy --name balance --env staging --force",
    ]


def test_the_local_stacks_creds_are_refused(deploy_env: dict[str, str]) -> None:
    local = ensure_security(Path(deploy_env["STACK_DIR"])).service_creds
    result = invoke(deploy_env, "deploy", "--creds", str(local))
    assert result.returncode == 1
    assert "belongs to the local stack" in result.stderr
    assert recorded(deploy_env) == []


def test_bad_creds_stop_the_deploy_before_any_change(
    deploy_env: dict[str, str], tmp_path: Path
) -> None:
    bogus = tmp_path / "bogus.creds"
    bogus.write_text("not a creds file")
    result = invoke(deploy_env, "deploy", "--creds", str(bogus))
    assert result.returncode == 1
    assert "not a NATS user credentials file" in result.stderr
    assert "Traceback" not in result.stderr
    assert recorded(deploy_env) == []


def test_destroy_deletes_the_service_and_says_the_data_is_kept(deploy_env: dict[str, str]) -> None:
    result = invoke(deploy_env, "destroy")
    assert result.returncode == 0, result.stderr
    assert recorded(deploy_env)[-1] == "svc delete --name balance --env dev --yes"
    assert "table was kept" in result.stdout


def test_destroy_checks_before_copilot_runs(deploy_env: dict[str, str]) -> None:
    """No region, or an AWS endpoint that does not answer: one line naming it, copilot never
    called. A dry run says what would be kept, in the future tense."""
    no_region = {k: v for k, v in deploy_env.items() if k != "AWS_REGION"}
    result = invoke({**no_region, "AWS_CONFIG_FILE": "/nonexistent"}, "destroy")
    assert result.returncode == 1
    assert "no AWS region" in result.stderr
    unreachable = {**deploy_env, "AWS_ENDPOINT_URL": "http://127.0.0.1:9"}
    result = invoke(unreachable, "destroy")
    assert result.returncode == 1
    assert "cannot reach AWS at http://127.0.0.1:9" in result.stderr
    assert "credentials" not in result.stderr
    assert recorded(deploy_env) == []
    dry = invoke(deploy_env, "destroy", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "would be kept" in dry.stdout
    assert "was kept" not in dry.stdout
