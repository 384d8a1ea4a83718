"""The cloud path's files, checked offline: the manifests against our schema and cross-checks,
the addon template with cfn-lint and in moto's CloudFormation, and the real copilot binary."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from pydantic import ValidationError

from devkit import platform_names
from devkit.cloud import copilot_schema
from service import names
from tests.support.commands import ROOT

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
        == platform_names.COMPOSE_PROJECT
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


def test_a_retained_table_is_served_again_through_the_addon_parameter() -> None:
    """`invoke destroy` keeps the table; ExistingTable points a new deploy back at it."""
    parameters = copilot_schema.load_yaml(COPILOT / "balance" / "addons" / "addons.parameters.yml")
    assert parameters == {"Parameters": {"ExistingTable": ""}}  # the default creates a table
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=names.DEFAULT_REGION)
        dynamodb.create_table(
            TableName="kept-balances",
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
        cloudformation = boto3.client("cloudformation", region_name=names.DEFAULT_REGION)
        cloudformation.create_stack(
            StackName="again",
            TemplateBody=ADDONS[0].read_text(),
            Parameters=[
                {"ParameterKey": "App", "ParameterValue": "customer-balance"},
                {"ParameterKey": "Env", "ParameterValue": "dev"},
                {"ParameterKey": "Name", "ParameterValue": "balance"},
                {"ParameterKey": "ExistingTable", "ParameterValue": "kept-balances"},
            ],
        )
        stack = cloudformation.describe_stacks(StackName="again")["Stacks"][0]
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
        assert outputs["DdbTable"] == "kept-balances"
        assert dynamodb.list_tables()["TableNames"] == ["kept-balances"]  # none created
        iam = boto3.client("iam", region_name=names.DEFAULT_REGION)
        policy = iam.get_policy(PolicyArn=outputs["BalancesAccessPolicyArn"])["Policy"]
        version = iam.get_policy_version(
            PolicyArn=policy["Arn"], VersionId=policy["DefaultVersionId"]
        )["PolicyVersion"]["Document"]
        document = json.loads(version) if isinstance(version, str) else version
        assert document["Statement"][0]["Resource"].endswith(":table/kept-balances")


def test_the_real_copilot_cli_is_installed() -> None:
    copilot = Path(sys.executable).parent / "copilot"
    result = subprocess.run(
        [str(copilot), "--version"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0
    assert "v1.34.1" in result.stdout
