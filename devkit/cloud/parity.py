"""Where the CDK template and the Copilot manifest disagree, field by field.

Read from the manifest itself, not from ServiceSpec, so a mistake in how the CDK app derives its
settings shows up here too. An empty list means both paths deploy the same task.
"""

from __future__ import annotations

from devkit.cloud import copilot_schema
from devkit.cloud.copilot_schema import Template
from devkit.cloud.service_spec import TABLE_VARIABLE, seconds, stop_timeout


def resources_of(template: Template, kind: str) -> list[Template]:
    return [r for r in template["Resources"].values() if r["Type"] == kind]


def _one(template: Template, kind: str) -> Template:
    [resource] = resources_of(template, kind)
    properties: Template = resource["Properties"]
    return properties


def task_differences(
    template: Template, manifest: copilot_schema.BackendService, environment: str
) -> list[str]:
    task = _one(template, "AWS::ECS::TaskDefinition")
    service = _one(template, "AWS::ECS::Service")
    [container] = task["ContainerDefinitions"]
    overrides = manifest.environments.get(environment)
    check = manifest.image.healthcheck
    expected: dict[str, object] = {
        "cpu": str(manifest.cpu),
        "memory": str(manifest.memory),
        "count": overrides.count if overrides and overrides.count is not None else manifest.count,
        "variables": {**manifest.variables, **((overrides and overrides.variables) or {})},
        "secrets": sorted(manifest.secrets),
        "health check command": check.command,
        "health check interval": seconds(check.interval),
        "health check retries": check.retries,
        "health check timeout": seconds(check.timeout),
        "health check start period": seconds(check.start_period),
        "stop timeout": stop_timeout(manifest),
        "log retention": manifest.logging.retention,
        "architecture": "ARM64" if manifest.platform.endswith("arm64") else "X86_64",
        "public IP": manifest.network.vpc.placement == "public",
        "exec": manifest.exec,
    }
    [log_group] = resources_of(template, "AWS::Logs::LogGroup")
    health = container["HealthCheck"]
    actual: dict[str, object] = {
        "cpu": task["Cpu"],
        "memory": task["Memory"],
        "count": service["DesiredCount"],
        "variables": {
            e["Name"]: e["Value"] for e in container["Environment"] if e["Name"] != TABLE_VARIABLE
        },
        "secrets": sorted(s["Name"] for s in container.get("Secrets", [])),
        "health check command": health["Command"],
        "health check interval": health["Interval"],
        "health check retries": health["Retries"],
        "health check timeout": health["Timeout"],
        "health check start period": health["StartPeriod"],
        "stop timeout": container["StopTimeout"],
        "log retention": log_group["Properties"]["RetentionInDays"],
        "architecture": task["RuntimePlatform"]["CpuArchitecture"],
        "public IP": service["NetworkConfiguration"]["AwsvpcConfiguration"]["AssignPublicIp"]
        == "ENABLED",
        "exec": service.get("EnableExecuteCommand", False),
    }
    return [
        f"{field}: Copilot {expected[field]!r}, CDK {actual[field]!r}"
        for field in expected
        if expected[field] != actual[field]
    ]


def table_differences(template: Template, addon: Template) -> list[str]:
    """The table as the Copilot addon declares it: key, billing, PITR, encryption, retention."""
    copilot = addon["Resources"]["BalancesTable"]
    [cdk] = resources_of(template, "AWS::DynamoDB::Table")
    fields = (
        "KeySchema",
        "AttributeDefinitions",
        "BillingMode",
        "PointInTimeRecoverySpecification",
    )
    problems = [
        f"table {field}: Copilot {copilot['Properties'].get(field)!r},"
        f" CDK {cdk['Properties'].get(field)!r}"
        for field in (*fields, "SSESpecification")
        if copilot["Properties"].get(field) != cdk["Properties"].get(field)
    ]
    problems += [
        f"table {policy}: Copilot {copilot.get(policy)!r}, CDK {cdk.get(policy)!r}"
        for policy in ("DeletionPolicy", "UpdateReplacePolicy")
        if copilot.get(policy) != cdk.get(policy)
    ]
    [copilot_statement] = addon["Resources"]["BalancesAccessPolicy"]["Properties"][
        "PolicyDocument"
    ]["Statement"]
    cdk_actions = [
        statement["Action"]
        for policy in resources_of(template, "AWS::IAM::Policy")
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if statement.get("Sid") == copilot_statement["Sid"]
    ]
    if cdk_actions != [copilot_statement["Action"]]:
        problems.append(
            f"table actions: Copilot {copilot_statement['Action']!r}, CDK {cdk_actions!r}"
        )
    return problems
