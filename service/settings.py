"""Configuration from the environment, validated once before anything connects."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from service import names
from service.operator_errors import OperatorError

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]


class HealthSettings(BaseSettings):
    """What the health check reads: it runs beside the service and needs nothing else."""

    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore", frozen=True)

    health_file: Path = names.HEALTH_FILE
    health_interval_s: float = Field(default=names.HEALTH_INTERVAL_S, gt=0)

    @model_validator(mode="before")
    @classmethod
    def _blank_means_unset(cls, data: object) -> object:
        """An empty variable (`FOO=`) is treated as unset rather than as an empty value."""
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if v != ""}
        return data


class Settings(HealthSettings):
    """Everything the service reads from its environment; field names are the variable names."""

    nats_url: str = Field(default=f"nats://{names.LOCAL_HOST}:{names.NATS_PORT}", min_length=1)
    nats_credentials: SecretStr | None = None
    """Base64 of a .creds file, as Fargate passes it from a secret."""
    nats_creds_file: Path | None = None

    ddb_table: str = Field(pattern=r"^[A-Za-z0-9_.-]{3,255}$")
    aws_endpoint_url: str | None = None
    aws_region: str | None = None
    aws_default_region: str | None = None

    seed_rows: int = Field(default=1000, ge=0, le=100_000_000)
    """Demo customers "1".."N" written once per table; 0 turns seeding off (a table with real data)."""
    seed_claim_timeout_s: float = Field(default=120.0, gt=0)
    stream_replicas: int = Field(default=1, ge=1, le=5)
    stream_max_bytes: int = Field(default=names.STREAM_MAX_BYTES, ge=64 * 1024)
    """The event stream's size; when full, the oldest events go (docs/decisions.md)."""

    log_level: LogLevel = "INFO"
    max_concurrency: int = Field(default=1000, ge=1, le=100_000)
    """Requests handled at once; the read coalescer fills its batches from these, so a low
    value makes small batches (measurements in docs/benchmarks.md)."""
    request_timeout_s: float = Field(default=4.0, gt=0, le=60)
    """The whole budget of one request, kept under the 5 s callers wait."""
    ddb_call_timeout_s: float = Field(default=1.0, gt=0)
    ddb_batch_max: int = Field(default=100, ge=1, le=100)
    """Balance reads coalesced into one BatchGetItem; 1 turns coalescing off (one GetItem each)."""
    ddb_batches_in_flight: int = Field(default=8, ge=1, le=1000)
    event_ack_timeout_s: float = Field(default=1.0, gt=0)
    drain_timeout_s: float = Field(default=10.0, gt=0)
    connect_attempts: int = Field(default=10, ge=1)
    connect_timeout_s: float = Field(default=2.0, gt=0)

    @model_validator(mode="after")
    def _one_credential_source(self) -> Settings:
        if self.nats_credentials is not None and self.nats_creds_file is not None:
            raise ValueError("set NATS_CREDENTIALS or NATS_CREDS_FILE, not both")
        if self.region is None:
            raise ValueError(
                "AWS_REGION: no region set (set AWS_REGION or AWS_DEFAULT_REGION,"
                " or AWS_ENDPOINT_URL for an emulator)"
            )
        return self

    @property
    def region(self) -> str | None:
        """Explicit region first; an emulator may do without one."""
        explicit = self.aws_region or self.aws_default_region
        if explicit:
            return explicit
        return names.DEFAULT_REGION if self.aws_endpoint_url else None


class SettingsError(OperatorError):
    """The environment cannot configure the service; the message names the variable."""

    exit_code = 2


def describe_validation_error(error: ValidationError, *, prefix: str = "") -> str:
    """One line per problem, naming the environment variable a person has to change."""
    lines = []
    for item in error.errors():
        variable = prefix + "_".join(str(part) for part in item["loc"]).upper()
        message = item["msg"]
        if item["type"] == "missing":
            message = "is required but not set"
        elif message.startswith("Value error, "):
            message = message.removeprefix("Value error, ")
        lines.append(f"{variable}: {message}" if variable != prefix else message)
    return "; ".join(lines)


def load_settings() -> Settings:
    """Read the environment, or raise SettingsError with a line a person can act on."""
    try:
        return Settings()  # type: ignore[call-arg]  # fields come from the environment
    except ValidationError as error:
        raise SettingsError(f"invalid configuration: {describe_validation_error(error)}") from None
