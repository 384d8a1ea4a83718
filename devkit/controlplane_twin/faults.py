"""Failures the twin is told to inject: "the next N calls of METHOD on paths like PATTERN answer
STATUS". Tests use them to prove retries, one-line errors and resuming after a failure part-way.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field


class FaultRule(BaseModel):
    """`path` is a glob over the path after /api (`/core/beta/accounts/*/nats-users`)."""

    model_config = ConfigDict(extra="forbid")

    method: str = Field(pattern=r"^(GET|POST|PATCH|DELETE|\*)$")
    path: str = Field(min_length=1, max_length=500)
    status: int = Field(ge=400, le=599)
    times: int = Field(default=1, ge=1, le=1000)
    body: str = Field(default="injected by the twin", max_length=2000)
    retry_after_s: int | None = Field(default=None, ge=0, le=60)


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
