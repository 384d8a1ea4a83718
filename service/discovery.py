"""ADR-32 discovery documents (`$SRV.PING`, `INFO`, `STATS`) as typed records.

The service builds them and `invoke bench` reads STATS back, so both sides share one
definition. Field names are the wire names; the tests validate every document against the
official JSON schemas, and the NATS CLI reads them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from nats.nuid import NUID
from pydantic import BaseModel, ConfigDict, JsonValue

SRV_PREFIX = "$SRV"
VERBS = ("PING", "INFO", "STATS")


def control_subjects(name: str, service_id: str) -> list[str]:
    """The nine discovery subjects ADR-32 defines for one service instance."""
    subjects = []
    for verb in VERBS:
        subjects += [
            f"{SRV_PREFIX}.{verb}",
            f"{SRV_PREFIX}.{verb}.{name}",
            f"{SRV_PREFIX}.{verb}.{name}.{service_id}",
        ]
    return subjects


@dataclass(frozen=True)
class ServiceIdentity:
    name: str
    version: str
    description: str
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass
class EndpointCounters:
    num_requests: int = 0
    num_errors: int = 0
    last_error: str = ""
    processing_time_ns: int = 0

    def record(self, elapsed_ns: int, error: str | None) -> None:
        self.num_requests += 1
        self.processing_time_ns += elapsed_ns
        if error is not None:
            self.num_errors += 1
            self.last_error = error

    @property
    def average_processing_time_ns(self) -> int:
        return self.processing_time_ns // self.num_requests if self.num_requests else 0


class _Record(BaseModel):
    # Other implementations may add fields; a reader keeps what it knows.
    model_config = ConfigDict(frozen=True, extra="ignore")


class _ServiceDocument(_Record):
    name: str
    id: str
    version: str
    metadata: dict[str, str] | None = None

    def encode(self) -> bytes:
        return self.model_dump_json(exclude_none=True).encode()


class PingResponse(_ServiceDocument):
    type: Literal["io.nats.micro.v1.ping_response"] = "io.nats.micro.v1.ping_response"


class EndpointInfo(_Record):
    name: str
    subject: str
    queue_group: str = ""
    metadata: dict[str, str] | None = None


class InfoResponse(_ServiceDocument):
    type: Literal["io.nats.micro.v1.info_response"] = "io.nats.micro.v1.info_response"
    description: str
    endpoints: list[EndpointInfo]


class EndpointStats(_Record):
    """One endpoint's counters; times are nanoseconds, as ADR-32 defines them."""

    name: str
    subject: str
    queue_group: str = ""
    num_requests: int
    num_errors: int
    last_error: str
    processing_time: int
    average_processing_time: int
    data: dict[str, JsonValue] | None = None


class StatsResponse(_ServiceDocument):
    type: Literal["io.nats.micro.v1.stats_response"] = "io.nats.micro.v1.stats_response"
    started: str
    """RFC 3339, UTC."""
    endpoints: list[EndpointStats]


def new_service_id() -> str:
    return NUID().next().decode()
