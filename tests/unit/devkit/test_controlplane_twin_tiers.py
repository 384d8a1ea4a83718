"""The tiers the twin offers, read from the server's JSZ report, and the refusals of a tier the
system lacks (the reports are the shapes nats-server 2.15.1 answered, trimmed)."""

from __future__ import annotations

import asyncio

import pytest

from devkit.controlplane_twin.claims import DEFAULT_R1_LIMITS, DEFAULT_R3_LIMITS, account_limits
from devkit.controlplane_twin.server_side import ServerAnswer, ServerSideError
from devkit.controlplane_twin.tiers import (
    TIERS_TTL_S,
    TierCache,
    limits_refusal,
    offered,
    replicas_refusal,
)

SINGLE = {"config": {"max_storage": 1 << 30}, "meta_cluster": None}
CLUSTER_WITH_A_NODE_DOWN = {
    "meta_cluster": {
        "name": "local",
        "replicas": [{"name": "nats-2", "current": True}],
        "cluster_size": 3,
        "quorum_needed": 2,
    }
}


def test_r3_is_offered_by_a_cluster_of_three_even_with_a_node_down() -> None:
    assert offered(SINGLE) == ("R1",)
    assert offered({}) == ("R1",)
    assert offered(CLUSTER_WITH_A_NODE_DOWN) == ("R1", "R3")
    assert offered({"meta_cluster": {"cluster_size": 2}}) == ("R1",)


def test_replicas_without_a_tier_are_refused_in_words() -> None:
    message = replicas_refusal("stream", 3, ("R1",))
    assert message is not None
    assert message.startswith("num_replicas: this system offers R1 only: a stream of 3 replicas")
    assert "STACK_NATS_NODES=3" in message
    assert replicas_refusal("bucket", 3, ("R1", "R3")) is None
    assert replicas_refusal("bucket", 1, ("R1",)) is None
    two = replicas_refusal("bucket", 2, ("R1", "R3"))
    assert two is not None
    assert two.startswith("num_replicas: this system offers R1 and R3 only")
    for not_a_number in (None, "3", True, 0):  # the server's own refusal, or its default
        assert replicas_refusal("stream", not_a_number, ("R1",)) is None


def test_account_limits_naming_a_missing_tier_are_refused() -> None:
    asked = {"tiered_limits": {"R3": DEFAULT_R3_LIMITS}}
    message = limits_refusal(asked, ("R1",))
    assert message is not None
    assert message.startswith("jwt_settings.limits.tiered_limits: this system offers R1 only")
    assert limits_refusal(asked, ("R1", "R3")) is None
    assert limits_refusal({"disk_storage": 1024}, ("R1",)) is None  # not tiered: every tier


def test_an_account_without_limits_gets_every_offered_tier() -> None:
    assert account_limits(None) == {"tiered_limits": {"R1": DEFAULT_R1_LIMITS}}
    clustered = account_limits(None, ("R1", "R3"))
    assert clustered == {"tiered_limits": {"R1": DEFAULT_R1_LIMITS, "R3": DEFAULT_R3_LIMITS}}
    assert DEFAULT_R3_LIMITS["max_bytes_required"] is True
    assert account_limits({"disk_storage": 5}, ("R1", "R3")) == {"disk_storage": 5}


class Reports:
    """A server whose JSZ report is a list of answers (an exception: no answer)."""

    def __init__(self, *answers: ServerAnswer | ServerSideError) -> None:
        self.answers = list(answers)
        self.asked = 0
        self.now = 0.0

    async def report(self) -> ServerAnswer:
        self.asked += 1
        answer = self.answers.pop(0)
        if isinstance(answer, ServerSideError):
            raise answer
        return answer


def test_the_tiers_are_kept_and_outlive_a_server_that_does_not_answer() -> None:
    down = ServerSideError(503, "nats-server did not answer")
    server = Reports(CLUSTER_WITH_A_NODE_DOWN, down, SINGLE)
    cache = TierCache(server.report, clock=lambda: server.now)

    async def ask() -> tuple[str, ...]:
        return await cache.tiers()

    assert asyncio.run(ask()) == ("R1", "R3")
    assert asyncio.run(ask()) == ("R1", "R3")
    assert server.asked == 1
    server.now = TIERS_TTL_S
    assert asyncio.run(ask()) == ("R1", "R3")  # asked again, no answer: the last one stands
    assert server.asked == 2
    assert asyncio.run(ask()) == ("R1",)  # and the next answer replaces it
    assert server.asked == 3


def test_without_any_answer_the_servers_silence_is_the_answer() -> None:
    cache = TierCache(Reports(ServerSideError(503, "nats-server did not answer")).report)
    with pytest.raises(ServerSideError, match="did not answer"):
        asyncio.run(cache.tiers())
