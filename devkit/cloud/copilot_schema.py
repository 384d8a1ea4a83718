"""A schema of our own for the AWS Copilot manifest fields this project uses.

Copilot publishes no schema and has no offline `validate`; these models (extra fields refused)
and `cross_check` catch the mistakes users hit most, before `copilot svc deploy` does.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from devkit import platform_names
from service.settings import Settings

PLATFORMS = ("linux/x86_64", "linux/amd64", "linux/arm64", "linux/arm")
PARAMETER_PATH = (
    "/copilot/${COPILOT_APPLICATION_NAME}/${COPILOT_ENVIRONMENT_NAME}/secrets/nats_credentials"
)
"""The SSM parameter the manifest reads; `invoke deploy` writes it with the app and env filled in."""

_FARGATE_MEMORY_MIB = {
    256: range(512, 2049, 512),
    512: range(1024, 4097, 1024),
    1024: range(2048, 8193, 1024),
    2048: range(4096, 16385, 1024),
    4096: range(8192, 30721, 1024),
    8192: range(16384, 61441, 4096),
    16384: range(32768, 122881, 8192),
}


def valid_fargate_size(cpu: int, memory: int) -> bool:
    """ECS rejects other pairs only at deploy time; Copilot does not check them."""
    return memory in _FARGATE_MEMORY_MIB.get(cpu, range(0))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Build(_Strict):
    dockerfile: str
    context: str = "."


class HealthCheck(_Strict):
    command: list[str] = Field(min_length=2)
    interval: str = "10s"
    retries: int = 2
    timeout: str = "5s"
    start_period: str = "0s"

    @field_validator("command")
    @classmethod
    def _starts_with_cmd(cls, command: list[str]) -> list[str]:
        if command[0] not in ("CMD", "CMD-SHELL"):
            raise ValueError("a health check command starts with CMD or CMD-SHELL")
        return command


class Image(_Strict):
    build: Build
    healthcheck: HealthCheck


class Autoscaling(_Strict):
    range: Annotated[str, Field(pattern=r"^\d+-\d+$")]
    cpu_percentage: int | None = None
    memory_percentage: int | None = None


class Vpc(_Strict):
    placement: Literal["public", "private"] = "public"


class Network(_Strict):
    vpc: Vpc


class Logging(_Strict):
    retention: int


class TaskdefOverride(_Strict):
    path: str
    value: Any


class Overrides(_Strict):
    count: int | Autoscaling | None = None
    variables: dict[str, str] | None = None


class BackendService(_Strict):
    name: str
    type: Literal["Backend Service"]
    image: Image
    platform: Literal[PLATFORMS]  # type: ignore[valid-type]
    cpu: int
    memory: int
    count: int | Autoscaling
    exec: bool = False
    network: Network
    variables: dict[str, str]
    secrets: dict[str, str]
    logging: Logging
    taskdef_overrides: list[TaskdefOverride] = []
    environments: dict[str, Overrides] = {}


class Environment(_Strict):
    name: str
    type: Literal["Environment"]
    observability: dict[str, bool] = {}


class Workspace(_Strict):
    application: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]*$")]


class _CloudFormationLoader(yaml.SafeLoader):
    """Reads CloudFormation short forms (`!Ref X`, `!GetAtt A.B`, `!Sub ...`) as their long forms."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


_CloudFormationLoader.add_multi_constructor("!", _intrinsic)


def load_yaml(path: Path) -> Any:
    """Manifests and addon templates alike (the latter may use CloudFormation short forms)."""
    return yaml.load(path.read_text(), Loader=_CloudFormationLoader)  # noqa: S506 - SafeLoader subclass


def addon_outputs_as_variables(addon: dict[str, Any]) -> set[str]:
    """Copilot turns each non-policy output into an env var named in upper SNAKE_CASE."""
    variables = set()
    resources = addon.get("Resources", {})
    for logical_id, output in addon.get("Outputs", {}).items():
        ref = output.get("Value", {}).get("Ref") if isinstance(output.get("Value"), dict) else None
        kind = resources.get(ref, {}).get("Type") if ref else None
        if kind in ("AWS::IAM::ManagedPolicy", "AWS::EC2::SecurityGroup"):
            continue
        variables.add(re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", logical_id).upper())
    return variables


def cross_check(manifest: BackendService, addon: dict[str, Any], root: Path) -> list[str]:
    """What a schema cannot see; an empty list means the manifest is consistent."""
    problems = []
    provided = set(manifest.variables) | set(manifest.secrets) | addon_outputs_as_variables(addon)
    provided |= {"AWS_REGION"}  # ECS sets it in every task
    required = {
        name.upper() for name, field in Settings.model_fields.items() if field.is_required()
    }
    for variable in sorted(required - provided):
        problems.append(f"{variable} is required by the service but not provided")
    if manifest.secrets.get("NATS_CREDENTIALS") != PARAMETER_PATH:
        problems.append(f"NATS_CREDENTIALS must come from {PARAMETER_PATH}")
    command = manifest.image.healthcheck.command
    if command[1:3] == ["python", "-m"]:
        module = command[3].replace(".", "/")
        if not (root / f"{module}.py").exists():
            problems.append(f"the health-check module {command[3]} does not exist")
    if not valid_fargate_size(manifest.cpu, manifest.memory):
        problems.append(f"cpu {manifest.cpu} with memory {manifest.memory} is not a Fargate size")
    if manifest.variables.get("NATS_URL") != platform_names.CLOUD_NATS_URL:
        problems.append(f"NATS_URL must be {platform_names.CLOUD_NATS_URL}")
    return problems
