"""The cloud path, checked offline: manifests, the addon template in moto's CloudFormation,
and `invoke deploy` / `invoke destroy` against moto's STS and SSM with a stand-in copilot."""

from __future__ import annotations

import base64
import contextlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from pydantic import ValidationError

from devkit.auth.security import ensure_security
from devkit.cloud import copilot_schema
from devkit.stack.processes import free_port, stop_process
from devkit.stack.servers import start_moto
from service import names
from tests.support.commands import ROOT, clean_environment, invoke, stand_in_path

pytestmark = pytest.mark.integration

COPILOT = ROOT / "copilot"
ADDONS = sorted(
    p for p in (COPILOT / "balance" / "addons").glob("*.yml") if p.name != "addons.parameters.yml"
)
PARAMETER = "/copilot/customer-balance/dev/secrets/nats_credentials"


def manifest_document() -> dict[str, Any]:
    document: dict[str, Any] = copilot_schema.load_yaml(COPILOT / "balance" / "manifest.yml")
    return document


def addon_document() -> dict[str, Any]:
    document: dict[str, Any] = copilot_schema.load_yaml(ADDONS[0])
    return document


def test_cfn_lint_finds_nothing_in_the_addons() -> None:
    assert ADDONS
    cfn_lint = Path(sys.executable).parent / "cfn-lint"
    result = subprocess.run(
        [str(cfn_lint), *map(str, ADDONS)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_manifest_validates_and_cross_checks() -> None:
    assert (
        copilot_schema.Workspace.model_validate(
            copilot_schema.load_yaml(COPILOT / ".workspace")
        ).application
        == names.COMPOSE_PROJECT
    )
    for environment in (COPILOT / "environments").glob("*/manifest.yml"):
        copilot_schema.Environment.model_validate(copilot_schema.load_yaml(environment))
    manifest = copilot_schema.BackendService.model_validate(manifest_document())
    assert copilot_schema.cross_check(manifest, addon_document(), ROOT) == []
    for name in manifest.environments:
        assert (COPILOT / "environments" / name / "manifest.yml").exists()


@pytest.mark.parametrize(
    "change",
    [
        {"image": {"port": 8080}},  # a Backend Service that only connects out exposes nothing
        {"http": {"path": "/"}},
        {"platform": "windows/x86_64"},
        {"type": "Worker Service"},
    ],
)
def test_the_schema_refuses_what_this_service_must_not_have(change: dict[str, Any]) -> None:
    document = manifest_document()
    for key, value in change.items():
        document[key] = (
            {**document[key], **value} if isinstance(value, dict) and key in document else value
        )
    with pytest.raises(ValidationError):
        copilot_schema.BackendService.model_validate(document)


def test_cross_checks_catch_what_the_schema_cannot() -> None:
    document = manifest_document()
    document.update(cpu=512, memory=512)
    document["secrets"] = {"NATS_CREDENTIALS": "/somewhere/else"}
    document["image"]["healthcheck"]["command"] = ["CMD", "python", "-m", "service.gone"]
    manifest = copilot_schema.BackendService.model_validate(document)
    addon = addon_document()
    del addon["Outputs"]["DdbTable"]
    problems = " | ".join(copilot_schema.cross_check(manifest, addon, ROOT))
    assert "DDB_TABLE is required" in problems
    assert "NATS_CREDENTIALS must come from" in problems
    assert "service.gone does not exist" in problems
    assert "not a Fargate size" in problems


def test_fargate_sizes() -> None:
    assert copilot_schema.valid_fargate_size(512, 1024)
    assert copilot_schema.valid_fargate_size(256, 2048)
    assert not copilot_schema.valid_fargate_size(256, 4096)
    assert not copilot_schema.valid_fargate_size(300, 1024)


def test_the_addon_deploys_a_retained_table_and_least_privilege_policy() -> None:
    template = ADDONS[0].read_text()
    with mock_aws():
        cloudformation = boto3.client("cloudformation", region_name=names.DEFAULT_REGION)
        cloudformation.create_stack(
            StackName="customer-balance-dev-balance-AddonsStack",
            TemplateBody=template,
            Parameters=[
                {"ParameterKey": "App", "ParameterValue": "customer-balance"},
                {"ParameterKey": "Env", "ParameterValue": "dev"},
                {"ParameterKey": "Name", "ParameterValue": "balance"},
            ],
        )
        stack = cloudformation.describe_stacks(StackName="customer-balance-dev-balance-AddonsStack")
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Stacks"][0]["Outputs"]}
        assert set(outputs) == {"DdbTable", "BalancesAccessPolicyArn"}

        table = boto3.client("dynamodb", region_name=names.DEFAULT_REGION).describe_table(
            TableName=outputs["DdbTable"]
        )["Table"]
        assert table["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
        assert table["AttributeDefinitions"] == [{"AttributeName": "id", "AttributeType": "S"}]
        assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"

        iam = boto3.client("iam", region_name=names.DEFAULT_REGION)
        policy = iam.get_policy(PolicyArn=outputs["BalancesAccessPolicyArn"])["Policy"]
        version = iam.get_policy_version(
            PolicyArn=policy["Arn"], VersionId=policy["DefaultVersionId"]
        )["PolicyVersion"]["Document"]
        document = json.loads(version) if isinstance(version, str) else version
        [statement] = document["Statement"]
        assert statement["Effect"] == "Allow"
        assert sorted(statement["Action"]) == [
            "dynamodb:BatchGetItem",
            "dynamodb:BatchWriteItem",
            "dynamodb:DescribeTable",
            "dynamodb:GetItem",
        ]
        assert statement["Resource"] == table["TableArn"]

    resources = addon_document()["Resources"]
    assert resources["BalancesTable"]["DeletionPolicy"] == "Retain"
    assert resources["BalancesTable"]["UpdateReplacePolicy"] == "Retain"
    assert resources["BalancesTable"]["Properties"]["PointInTimeRecoverySpecification"] == {
        "PointInTimeRecoveryEnabled": True
    }
    assert addon_document()["Outputs"]["BalancesAccessPolicyArn"]["Value"] == {
        "Ref": "BalancesAccessPolicy"
    }


def test_the_real_copilot_cli_is_installed() -> None:
    copilot = Path(sys.executable).parent / "copilot"
    result = subprocess.run(
        [str(copilot), "--version"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0
    assert "v1.34.1" in result.stdout


STAND_IN = """#!/bin/sh
printf '%s\\n' "$*" >> "$COPILOT_RECORD"
if [ "$1" = "--version" ]; then echo "copilot version: v1.34.1"; fi
exit 0
"""


@pytest.fixture(scope="module")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    launched = start_moto(workdir=tmp_path_factory.mktemp("moto-aws"), port=port)
    yield f"http://{names.LOCAL_HOST}:{port}"
    stop_process(launched.pid)


@pytest.fixture
def deploy_env(tmp_path: Path, moto_endpoint: str) -> dict[str, str]:
    clean = clean_environment()
    ssm = boto3.client(
        "ssm",
        endpoint_url=moto_endpoint,
        region_name=names.DEFAULT_REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    with contextlib.suppress(ssm.exceptions.ParameterNotFound):
        ssm.delete_parameter(Name=PARAMETER)
    return {
        **clean,
        "PATH": stand_in_path(tmp_path / "bin", "copilot", STAND_IN),
        "COPILOT_RECORD": str(tmp_path / "copilot-calls.txt"),
        "AWS_ENDPOINT_URL": moto_endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": names.DEFAULT_REGION,
    }


def ssm_client(env: dict[str, str]) -> Any:
    return boto3.client(
        "ssm",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        region_name=names.DEFAULT_REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def recorded(env: dict[str, str]) -> list[str]:
    path = Path(env["COPILOT_RECORD"])
    return path.read_text().splitlines() if path.exists() else []


def test_dry_run_shows_the_tagged_parameter_and_the_copilot_command(
    deploy_env: dict[str, str], tmp_path: Path
) -> None:
    creds = ensure_security(tmp_path / "cloud").service_creds
    result = invoke(deploy_env, "deploy", "--creds", str(creds), "--dry-run")
    assert result.returncode == 0, result.stdout + result.stderr
    assert (
        f"would call ssm:PutParameter {PARAMETER} (SecureString, tags "
        "copilot-application=customer-balance, copilot-environment=dev)"
    ) in result.stdout
    assert "would run: copilot svc deploy --name balance --env dev" in result.stdout
    assert "svc deploy" not in " ".join(recorded(deploy_env))
    with pytest.raises(ssm_client(deploy_env).exceptions.ParameterNotFound):
        ssm_client(deploy_env).get_parameter(Name=PARAMETER)


def test_a_first_deploy_creates_the_copilot_app_environment_and_service(
    deploy_env: dict[str, str], tmp_path: Path
) -> None:
    creds = ensure_security(tmp_path / "cloud").service_creds
    result = invoke(deploy_env, "deploy", "--creds", str(creds), "--init", "--dry-run")
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if line.startswith("would run: ")]
    assert lines == [
        "would run: copilot app init customer-balance",
        "would run: copilot env init --name dev --profile default --default-config",
        "would run: copilot env deploy --name dev",
        "would run: copilot svc init --name balance",
        "would run: copilot svc deploy --name balance --env dev",
    ]


def test_deploy_writes_the_tagged_secure_string_once_and_runs_copilot(
    deploy_env: dict[str, str], tmp_path: Path
) -> None:
    creds = ensure_security(tmp_path / "cloud").service_creds
    result = invoke(deploy_env, "deploy", "--creds", str(creds))
    assert result.returncode == 0, result.stdout + result.stderr

    ssm = ssm_client(deploy_env)
    parameter = ssm.get_parameter(Name=PARAMETER, WithDecryption=True)["Parameter"]
    assert parameter["Type"] == "SecureString"
    assert base64.b64decode(parameter["Value"]) == creds.read_bytes()
    tags = ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=PARAMETER)["TagList"]
    assert {t["Key"]: t["Value"] for t in tags} == {
        "copilot-application": "customer-balance",
        "copilot-environment": "dev",
    }
    assert recorded(deploy_env)[-1] == "svc deploy --name balance --env dev"

    again = invoke(deploy_env, "deploy", "--creds", str(creds))
    assert again.returncode == 0
    assert "already holds these creds" in again.stdout
    assert ssm.get_parameter(Name=PARAMETER)["Parameter"]["Version"] == parameter["Version"]


def test_bad_creds_stop_the_deploy_before_any_change(
    deploy_env: dict[str, str], tmp_path: Path
) -> None:
    bogus = tmp_path / "bogus.creds"
    bogus.write_text("not a creds file")
    result = invoke(deploy_env, "deploy", "--creds", str(bogus))
    assert result.returncode == 1
    assert "not a NATS user credentials file" in result.stderr
    assert "Traceback" not in result.stderr
    assert "svc deploy" not in " ".join(recorded(deploy_env))


def test_destroy_deletes_the_service_and_says_the_data_is_kept(deploy_env: dict[str, str]) -> None:
    result = invoke(deploy_env, "destroy")
    assert result.returncode == 0, result.stderr
    assert recorded(deploy_env)[-1] == "svc delete --name balance --env dev --yes"
    assert "table was kept" in result.stdout
