"""What both cloud paths deploy, read once from the Copilot manifest and its addon.

The manifest stays the one place a person edits task size, count, variables, health check,
stop timeout and log retention; the CDK app reads them from here, so the two cannot drift.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from devkit.cloud import copilot_schema
from devkit.cloud.aws import DeployError
from devkit.project import COPILOT_DIR

SERVICE = "balance"
"""The service's name in Copilot, and in the CDK stack's name."""

ADDON = "balances.yml"


@dataclass(frozen=True)
class HealthCheckSpec:
    command: tuple[str, ...]
    interval_s: int
    retries: int
    timeout_s: int
    start_period_s: int


@dataclass(frozen=True)
class TableSpec:
    key_attribute: str
    key_type: str
    on_demand: bool
    point_in_time_recovery: bool
    retained: bool
    actions: tuple[str, ...]
    """The DynamoDB calls the service makes, and the only ones its task role may make."""


@dataclass(frozen=True)
class ServiceSpec:
    application: str
    environment: str
    cpu: int
    memory: int
    count: int
    platform: str
    variables: dict[str, str]
    """The manifest's variables with the environment's overrides applied (DDB_TABLE excluded)."""
    secret_parameter: str
    """The SSM SecureString NATS_CREDENTIALS comes from, app and environment filled in."""
    health_check: HealthCheckSpec
    stop_timeout_s: int
    log_retention_days: int
    table: TableSpec

    @property
    def stack_name(self) -> str:
        return f"{self.application}-{self.environment}-{SERVICE}-cdk"


def seconds(duration: str) -> int:
    """Copilot's durations as this manifest writes them ("10s", "1m")."""
    units = {"s": 1, "m": 60}
    if not duration or duration[-1] not in units or not duration[:-1].isdigit():
        raise DeployError(f"{duration!r} is not a duration like 10s or 1m")
    return int(duration[:-1]) * units[duration[-1]]


def stop_timeout(manifest: copilot_schema.BackendService) -> int:
    for override in manifest.taskdef_overrides:
        if override.path == "ContainerDefinitions[0].StopTimeout":
            return int(override.value)
    return 30  # ECS's default


def table_spec(addon: copilot_schema.Template) -> TableSpec:
    table = addon["Resources"]["BalancesTable"]
    properties = table["Properties"]
    [key] = properties["KeySchema"]
    [statement] = addon["Resources"]["BalancesAccessPolicy"]["Properties"]["PolicyDocument"][
        "Statement"
    ]
    return TableSpec(
        key_attribute=key["AttributeName"],
        key_type=next(
            a["AttributeType"]
            for a in properties["AttributeDefinitions"]
            if a["AttributeName"] == key["AttributeName"]
        ),
        on_demand=properties.get("BillingMode") == "PAY_PER_REQUEST",
        point_in_time_recovery=properties.get("PointInTimeRecoverySpecification", {}).get(
            "PointInTimeRecoveryEnabled"
        )
        is True,
        retained=table.get("DeletionPolicy") == "Retain",
        actions=tuple(statement["Action"]),
    )


def load_service_spec(environment: str, copilot_dir: Path = COPILOT_DIR) -> ServiceSpec:
    manifest = copilot_schema.BackendService.model_validate(
        copilot_schema.load_yaml(copilot_dir / SERVICE / "manifest.yml")
    )
    workspace = copilot_schema.Workspace.model_validate(
        copilot_schema.load_yaml(copilot_dir / ".workspace")
    )
    addon = copilot_schema.load_yaml(copilot_dir / SERVICE / "addons" / ADDON)
    overrides = manifest.environments.get(environment)
    count = overrides.count if overrides and overrides.count is not None else manifest.count
    if not isinstance(count, int):
        raise DeployError("the CDK path deploys a fixed count; the manifest's count is a range")
    check = manifest.image.healthcheck
    return ServiceSpec(
        application=workspace.application,
        environment=environment,
        cpu=manifest.cpu,
        memory=manifest.memory,
        count=count,
        platform=manifest.platform,
        variables={**manifest.variables, **((overrides and overrides.variables) or {})},
        secret_parameter=copilot_schema.PARAMETER_PATH.replace(
            "${COPILOT_APPLICATION_NAME}", workspace.application
        ).replace("${COPILOT_ENVIRONMENT_NAME}", environment),
        health_check=HealthCheckSpec(
            command=tuple(check.command),
            interval_s=seconds(check.interval),
            retries=check.retries,
            timeout_s=seconds(check.timeout),
            start_period_s=seconds(check.start_period),
        ),
        stop_timeout_s=stop_timeout(manifest),
        log_retention_days=manifest.logging.retention,
        table=table_spec(addon),
    )


TABLE_VARIABLE = "DDB_TABLE"
"""Copilot derives it from the addon output DdbTable; the CDK app sets it from the table."""
