"""Failures the twin is told to inject: "the next N calls of METHOD on paths like PATTERN answer
STATUS", or "... are carried out, and their answers held for DELAY_S seconds" (an answer still on
its way when the caller gives up). Tests use them to prove retries, one-line errors, resuming
after a failure part-way, and an interrupted cloud-up.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field, model_validator


class FaultRule(BaseModel):
    """`path` is a glob over the path after /api (`/core/beta/accounts/*/nats-users`)."""

    model_config = ConfigDict(extra="forbid")

    method: str = Field(pattern=r"^(GET|POST|PATCH|DELETE|\*)$")
    path: str = Field(min_length=1, max_length=500)
    status: int | None = Field(default=None, ge=400, le=599)
    times: int = Field(default=1, ge=1, le=1000)
    body: str = Field(default="injected by the twin", max_length=2000)
    retry_after_s: int | None = Field(default=None, ge=0, le=60)
    delay_s: float | None = Field(default=None, gt=0, le=60)
    """Without a status: the call is carried out, and its answer held this long."""

    @model_validator(mode="after")
    def _one_fault(self) -> FaultRule:
        if (self.status is None) == (self.delay_s is None):
            raise ValueError("a fault rule has a status or a delay_s, not both")
        return self


@dataclass
class Faults:
    rules: list[FaultRule] = field(default_factory=list)
    fired: int = 0

    def add(self, rule: FaultRule) -> None:
        self.rules.append(rule)

    def clear(self) -> None:
        self.rules.clear()

    def take(self, method: str, path: str) -> FaultRule | None:
        """The first rule for this call, used up by one; None when the call should go ahead."""
        for rule in self.rules:
            if rule.method in (method, "*") and fnmatch.fnmatchcase(path, rule.path):
                rule.times -= 1
                if rule.times == 0:
                    self.rules.remove(rule)
                self.fired += 1
                return rule
        return None
