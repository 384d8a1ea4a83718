"""The CDK path, proven offline: synthesized once with no AWS access, cfn-lint, cdk-nag's AWS
Solutions rules, the template deployed into moto's CloudFormation, and parity with Copilot."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from devkit.cloud import cdk_nag_rules, copilot_schema, parity
from devkit.cloud.cdk_app import synthesize
from devkit.cloud.service_spec import ADDON, SERVICE, ServiceSpec, load_service_spec
from service import names
from tests.support.commands import ROOT

pytestmark = [
    pytest.mark.integration,
    pytest.mark.native_pass("the CDK path's proofs run in the native pass"),
]
"""Nothing here uses the local stack, so the container pass would only repeat it (CI time)."""


REGION = names.DEFAULT_REGION
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/customer-balance:test"
MANIFEST = ROOT / "copilot" / SERVICE / "manifest.yml"


@pytest.fixture(scope="module")
def spec() -> ServiceSpec:
    return load_service_spec("dev")


@pytest.fixture(scope="module")
def template(spec: ServiceSpec) -> dict[str, Any]:
    """Synthesized once for the module: the jsii runtime takes seconds to start."""
    from aws_cdk import aws_ecs as ecs

    return synthesize(spec, image=ecs.ContainerImage.from_registry(IMAGE))


def manifest() -> copilot_schema.BackendService:
    return copilot_schema.BackendService.model_validate(copilot_schema.load_yaml(MANIFEST))


def addon() -> dict[str, Any]:
    document: dict[str, Any] = copilot_schema.load_yaml(MANIFEST.parent / "addons" / ADDON)
    return document


def test_cfn_lint_finds_nothing_in_the_synthesized_template(
    template: dict[str, Any], tmp_path: Path
) -> None:
    path = tmp_path / "balance-cdk.template.json"
    path.write_text(json.dumps(template))
    cfn_lint = Path(sys.executable).parent / "cfn-lint"
    result = subprocess.run([str(cfn_lint), str(path)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_cdk_nag_passes_and_every_suppression_has_a_reason_in_the_decisions(
    template: dict[str, Any],
) -> None:
    recorded = template["Metadata"]["cdk_nag"]["rules_to_suppress"]
    assert {r["id"] for r in recorded} == set(cdk_nag_rules.SUPPRESSIONS)
    assert all(len(r["reason"]) > 40 for r in recorded)
    decisions = (ROOT / "docs" / "decisions.md").read_text()
    for rule in cdk_nag_rules.SUPPRESSIONS:
        assert rule in decisions


def test_the_cdk_task_matches_the_copilot_manifest_field_by_field(
    template: dict[str, Any],
) -> None:
    assert parity.task_differences(template, manifest(), "dev") == []
    assert parity.table_differences(template, addon()) == []


def test_parity_fails_when_one_path_changes_a_shared_setting(spec: ServiceSpec) -> None:
    """Proven once: a CDK stack given other settings than the manifest's is caught."""
    drifted = dataclasses.replace(
        spec, cpu=1024, memory=2048, stop_timeout_s=30, variables={**spec.variables, "X": "1"}
    )
    problems = " | ".join(parity.task_differences(synthesize(drifted), manifest(), "dev"))
    assert "cpu: Copilot '512', CDK '1024'" in problems
    assert "memory: Copilot '1024', CDK '2048'" in problems
    assert "stop timeout: Copilot 60, CDK 30" in problems
    assert "variables:" in problems


def test_a_retained_table_is_served_again_by_name(spec: ServiceSpec) -> None:
    """The migration from Copilot: the kept table is re-attached, no table is created."""
    template = synthesize(spec, existing_table="kept-balances")
    assert parity.resources_of(template, "AWS::DynamoDB::Table") == []
    statements = [
        s
        for p in parity.resources_of(template, "AWS::IAM::Policy")
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        if s.get("Sid") == "ReadAndSeedBalances"
    ]
    [statement] = statements
    assert "table/kept-balances" in json.dumps(statement["Resource"])
    [task] = parity.resources_of(template, "AWS::ECS::TaskDefinition")
    environment = task["Properties"]["ContainerDefinitions"][0]["Environment"]
    assert {"Name": "DDB_TABLE", "Value": "kept-balances"} in environment


def deploy_into_moto(template: dict[str, Any], spec: ServiceSpec) -> dict[str, str]:
    """create_stack in moto's CloudFormation; returns logical id -> physical id."""
    ssm = boto3.client("ssm", region_name=REGION)
    ssm.put_parameter(Name="/cdk-bootstrap/hnb659fds/version", Value="30", Type="String")
    ssm.put_parameter(Name=spec.secret_parameter, Value="Y3JlZHM=", Type="SecureString")
    cloudformation = boto3.client("cloudformation", region_name=REGION)
    cloudformation.create_stack(
        StackName=spec.stack_name,
        TemplateBody=json.dumps(template),
        Capabilities=["CAPABILITY_IAM"],
    )
    [stack] = cloudformation.describe_stacks(StackName=spec.stack_name)["Stacks"]
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    resources = cloudformation.describe_stack_resources(StackName=spec.stack_name)
    return {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in resources["StackResources"]}


def logical(template: dict[str, Any], kind: str) -> str:
    [found] = [str(k) for k, r in template["Resources"].items() if r["Type"] == kind]
    return found


def test_the_template_deploys_into_moto_cloudformation(
    template: dict[str, Any], spec: ServiceSpec
) -> None:
    with mock_aws():
        physical = deploy_into_moto(template, spec)
        table_name = physical[logical(template, "AWS::DynamoDB::Table")]
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        table = dynamodb.describe_table(TableName=table_name)["Table"]
        assert table["KeySchema"] == [{"AttributeName": names.DDB_KEY_ATTRIBUTE, "KeyType": "HASH"}]
        assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
        # moto's CloudFormation drops PointInTimeRecoverySpecification (the table reports
        # DISABLED), so PITR and the Retain policies are asserted from the template.
        [table_resource] = parity.resources_of(template, "AWS::DynamoDB::Table")
        assert table_resource["Properties"]["PointInTimeRecoverySpecification"] == {
            "PointInTimeRecoveryEnabled": True
        }
        assert table_resource["DeletionPolicy"] == table_resource["UpdateReplacePolicy"] == "Retain"

        ecs = boto3.client("ecs", region_name=REGION)
        task = ecs.describe_task_definition(
            taskDefinition=physical[logical(template, "AWS::ECS::TaskDefinition")]
        )["taskDefinition"]
        [container] = task["containerDefinitions"]
        assert container["image"] == IMAGE
        assert {e["name"]: e["value"] for e in container["environment"]} == {
            **spec.variables,
            "DDB_TABLE": table_name,
        }
        [secret] = container["secrets"]
        assert secret["name"] == "NATS_CREDENTIALS"
        assert secret["valueFrom"].endswith(f":parameter{spec.secret_parameter}")
        assert container["healthCheck"]["command"] == list(spec.health_check.command)
        assert container["stopTimeout"] == spec.stop_timeout_s
        # moto's CloudFormation keeps no task-level cpu and memory: asserted from the template.
        [task_resource] = parity.resources_of(template, "AWS::ECS::TaskDefinition")
        size = (task_resource["Properties"]["Cpu"], task_resource["Properties"]["Memory"])
        assert size == (str(spec.cpu), str(spec.memory))

        cluster = physical[logical(template, "AWS::ECS::Cluster")]
        service_arn = physical[logical(template, "AWS::ECS::Service")]
        [service] = ecs.describe_services(cluster=cluster, services=[service_arn])["services"]
        assert service["desiredCount"] == spec.count

        iam = boto3.client("iam", region_name=REGION)
        role = physical[logical_role(template)]
        policies = iam.list_role_policies(RoleName=role)["PolicyNames"]
        documents = [
            iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
            for name in policies
        ]
        table_statements = [
            s
            for d in documents
            for s in (json.loads(d) if isinstance(d, str) else d)["Statement"]
            if s.get("Sid") == "ReadAndSeedBalances"
        ]
        [statement] = table_statements
        assert statement["Action"] == list(spec.table.actions)
        assert statement["Resource"] == table["TableArn"]


def logical_role(template: dict[str, Any]) -> str:
    """The task role: the one the task definition names as TaskRoleArn."""
    [task] = parity.resources_of(template, "AWS::ECS::TaskDefinition")
    role: str = task["Properties"]["TaskRoleArn"]["Fn::GetAtt"][0]
    return role
