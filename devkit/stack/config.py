"""The local stack's configuration: `STACK_*` variables, read the way the service reads its own.

Defaults suit one stack on a laptop; the variables move it (a second stack, a busy port).
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from devkit import platform_names
from devkit.auth.security import creds_path
from devkit.project import ROOT
from service import names
from service.operator_errors import OperatorError
from service.settings import Settings, describe_validation_error

PREFIX = "STACK_"
SERVICE_PREFIX = "STACK_SERVICE_"
"""`STACK_SERVICE_<VARIABLE>=value` passes `<VARIABLE>=value` to every replica."""


class StackError(OperatorError):
    """The stack cannot do what was asked; the message says what to do instead."""


class ConfigurationError(StackError):
    """A `STACK_*` variable has a value that cannot be used: a usage error, like a bad flag."""

    exit_code = 2


@dataclass(frozen=True)
class NatsNode:
    """One nats-server of the stack: node 1 is component "nats" (on one server, the only one),
    nodes 2 and 3 of the cluster are "nats-2" and "nats-3"; each with its config fields' names."""

    index: int
    port: int
    monitor_port: int
    cluster_port: int

    @property
    def name(self) -> str:
        return "nats" if self.index == 1 else f"nats-{self.index}"

    @property
    def field_prefix(self) -> str:
        return "nats" if self.index == 1 else f"nats_{self.index}"

    @property
    def port_fields(self) -> tuple[str, str, str]:
        """The StackConfig fields of its client, monitor and route ports."""
        prefix = self.field_prefix
        return f"{prefix}_port", f"{prefix}_monitor_port", f"{prefix}_cluster_port"

    @property
    def url(self) -> str:
        return f"nats://{names.LOCAL_HOST}:{self.port}"

    @property
    def monitor_url(self) -> str:
        return f"http://{names.LOCAL_HOST}:{self.monitor_port}"

    @property
    def route_url(self) -> str:
        return f"nats-route://{names.LOCAL_HOST}:{self.cluster_port}"


def is_nats_node(name: str) -> bool:
    """ "nats", "nats-2", "nats-3": a nats-server of the stack."""
    return name == "nats" or (name.startswith("nats-") and name[5:].isdigit())


class _ServiceOverrides(PydanticBaseSettingsSource):
    """Collects every `STACK_SERVICE_*` variable: their names are the service's, not ours. An
    empty one is unset, as for every `STACK_*` variable."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        overrides = sorted(
            (key.removeprefix(SERVICE_PREFIX), value)
            for key, value in os.environ.items()
            if key.startswith(SERVICE_PREFIX) and key != SERVICE_PREFIX and value
        )
        unknown = unknown_service_settings(name for name, _ in overrides)
        if unknown:
            raise ConfigurationError(f"invalid configuration: {unknown}")
        return {"service_overrides": tuple(overrides)} if overrides else {}


def unknown_service_settings(variables: Iterable[str]) -> str:
    """Why `STACK_SERVICE_<VARIABLE>` names no setting of the service ("" when all do): a typo
    would otherwise reach the replicas, which ignore variables they do not read."""
    known = sorted(field.upper() for field in Settings.model_fields)
    problems = []
    for variable in variables:
        if variable.lower() in Settings.model_fields:
            continue
        close = difflib.get_close_matches(variable.upper(), known, n=1)
        hint = f" (did you mean {SERVICE_PREFIX}{close[0]}?)" if close else ""
        problems.append(f"{SERVICE_PREFIX}{variable}: the service has no setting {variable}{hint}")
    if not problems:
        return ""
    return "; ".join(problems) + " (its settings: docs/configuration.md)"


class StackConfig(BaseSettings):
    """Where the stack keeps its state and which ports, table and account it uses."""

    model_config = SettingsConfigDict(
        env_prefix=PREFIX,
        env_ignore_empty=True,
        extra="ignore",
        frozen=True,
        populate_by_name=True,
    )

    root: Path = Field(default=Path(".stack"), validation_alias="STACK_DIR")
    """STACK_DIR: state, logs, generated security material and JetStream data; a relative
    path is the repository's, whatever the current directory."""
    nats_port: int = Field(default=names.NATS_PORT, ge=0, le=65535)
    nats_monitor_port: int = Field(default=platform_names.NATS_MONITOR_PORT, ge=0, le=65535)
    nats_cluster_port: int = Field(default=platform_names.NATS_CLUSTER_PORT, ge=0, le=65535)
    nats_2_port: int = Field(default=platform_names.NATS_2_PORT, ge=0, le=65535)
    nats_2_monitor_port: int = Field(default=platform_names.NATS_2_MONITOR_PORT, ge=0, le=65535)
    nats_2_cluster_port: int = Field(default=platform_names.NATS_2_CLUSTER_PORT, ge=0, le=65535)
    nats_3_port: int = Field(default=platform_names.NATS_3_PORT, ge=0, le=65535)
    nats_3_monitor_port: int = Field(default=platform_names.NATS_3_MONITOR_PORT, ge=0, le=65535)
    nats_3_cluster_port: int = Field(default=platform_names.NATS_3_CLUSTER_PORT, ge=0, le=65535)
    """The cluster's other ports (route ports are used only on the cluster); 0 as below."""
    nats_nodes: int = platform_names.NATS_NODE_COUNTS[0]
    """STACK_NATS_NODES: 1 nats-server, or 3 forming one JetStream cluster (R3, as the cloud)."""
    nats_3_route_via: str = Field(default="", pattern=r"^(127\.0\.0\.1:\d{1,5})?$")
    """STACK_NATS_3_ROUTE_VIA (the chaos suite): 127.0.0.1:<port> of a proxy (Toxiproxy) through
    which the other nodes reach node 3's route port. Node 3 advertises it and dials no node
    itself, so every route of node 3 passes the proxy, which can cut it off (a partition)."""
    dynamodb_port: int = Field(default=platform_names.DYNAMODB_PORT, ge=0, le=65535)
    gateway_port: int = Field(default=platform_names.GATEWAY_PORT, ge=0, le=65535)
    controlplane_port: int = Field(default=platform_names.CONTROLPLANE_PORT, ge=0, le=65535)
    """A port of CHOSEN_BY_SERVER (0; any of the five) lets the server choose one; `up`
    records the one taken, which every later task uses."""
    table: str = platform_names.DEFAULT_TABLE
    account: str = platform_names.APP_ACCOUNT_NAME
    project: str = Field(default=platform_names.COMPOSE_PROJECT, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    """STACK_PROJECT: the Compose project name in docker mode (a second stack, or tests)."""
    mode: Literal["auto", "native", "docker"] = "auto"
    """STACK_MODE: what `invoke up` starts when no --mode is given."""
    service_overrides: tuple[tuple[str, str], ...] = ()
    """Extra service settings for the replicas, from `STACK_SERVICE_<VARIABLE>=value`."""

    @field_validator("nats_nodes")
    @classmethod
    def _allowed_nodes(cls, nodes: int) -> int:
        if nodes not in platform_names.NATS_NODE_COUNTS:
            allowed = " or ".join(str(n) for n in platform_names.NATS_NODE_COUNTS)
            raise ValueError(f"must be {allowed}, not {nodes}")
        return nodes

    @field_validator("root")
    @classmethod
    def _from_the_repository(cls, root: Path) -> Path:
        return root if root.is_absolute() else ROOT / root

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, _ServiceOverrides(settings_cls)

    @property
    def clustered(self) -> bool:
        return self.nats_nodes > 1

    @property
    def nats_nodes_list(self) -> list[NatsNode]:
        """Every nats-server of the stack, node 1 first."""
        return [self.nats_node(index) for index in range(1, self.nats_nodes + 1)]

    def nats_node(self, index: int) -> NatsNode:
        port, monitor, cluster = NatsNode(index, 0, 0, 0).port_fields
        return NatsNode(index, getattr(self, port), getattr(self, monitor), getattr(self, cluster))

    def route_via(self, node: NatsNode) -> str:
        """The proxy's address the other nodes reach `node`'s routes through, or ""."""
        return self.nats_3_route_via if node.index == 3 else ""

    def route_to(self, node: NatsNode) -> str:
        """The route URL the other nodes dial for `node`: its own, or the proxy's."""
        via = self.route_via(node)
        return f"nats-route://{via}" if via else node.route_url

    @property
    def nats_url(self) -> str:
        """Every node's client URL, comma-separated (one on a single server): clients are
        given the server list, as in the cloud, and fail over between its nodes."""
        return ",".join(node.url for node in self.nats_nodes_list)

    @property
    def gateway_url(self) -> str:
        return f"http://{names.LOCAL_HOST}:{self.gateway_port}"

    @property
    def controlplane_url(self) -> str:
        return f"http://{names.LOCAL_HOST}:{self.controlplane_port}"

    @property
    def dynamodb_endpoint(self) -> str:
        return f"http://{names.LOCAL_HOST}:{self.dynamodb_port}"

    @property
    def state_path(self) -> Path:
        return self.root / "state.json"

    @property
    def logs_dir(self) -> Path:
        return self.root / "logs"

    @property
    def service_creds(self) -> Path:
        return creds_path(self.root, platform_names.SERVICE_USER)

    @property
    def client_creds(self) -> Path:
        return creds_path(self.root, platform_names.CLIENT_USER)

    @property
    def admin_creds(self) -> Path:
        return creds_path(self.root, platform_names.ADMIN_USER)

    @property
    def peer_creds(self) -> Path:
        return creds_path(self.root, platform_names.PEER_USER)

    @property
    def reader_creds(self) -> Path:
        return creds_path(self.root, platform_names.READER_USER)

    def service_environment(self) -> dict[str, str]:
        """What every replica and the bootstrap read: the same variables Fargate sets."""
        return {
            "NATS_URL": self.nats_url,
            "DDB_TABLE": self.table,
            "AWS_ENDPOINT_URL": self.dynamodb_endpoint,
            "AWS_REGION": names.DEFAULT_REGION,
            **(
                {"STREAM_REPLICAS": str(platform_names.CLUSTER_STREAM_REPLICAS)}
                if self.clustered
                else {}
            ),
            **dict(self.service_overrides),
        }

    def service_settings(self) -> Settings:
        """Settings for tasks run from the host (bootstrap, seed): the service user's creds."""
        if not self.service_creds.exists():
            raise StackError(
                f"the local stack has never been started in {self.root} (no"
                f" {self.service_creds.name}); start it with: invoke up"
            )
        environment = {k.lower(): v for k, v in self.service_environment().items()}
        try:
            return Settings.model_validate({**environment, "nats_creds_file": self.service_creds})
        except ValidationError as error:
            raise ConfigurationError(  # a STACK_SERVICE_* variable: a usage error
                f"invalid service settings for the stack: {describe_validation_error(error)}"
            ) from None


def load_stack_config() -> StackConfig:
    """The environment's `STACK_*` variables, or a StackError naming the one to fix."""
    try:
        return StackConfig()
    except ValidationError as error:
        raise ConfigurationError(
            f"invalid configuration: {describe_validation_error(error, prefix=PREFIX)}"
        ) from None


def service_default(variable: str) -> str:
    """A service setting's default, as text: the one place it is written is the Settings class."""
    return str(Settings.model_fields[variable.lower()].get_default(call_default_factory=True))
