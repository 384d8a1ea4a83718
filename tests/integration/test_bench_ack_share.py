"""`invoke bench` on a real stack reports the event ack share and the mean ack wait (counted by
the replicas themselves), and CPU for every nats-server of the stack (each node on the cluster)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.commands import invoke, nats_components
from tests.support.gateway import HttpStack

pytestmark = [pytest.mark.integration, pytest.mark.serial("a benchmark: rates and CPU shares")]


def test_the_ack_share_the_mean_ack_wait_and_every_nodes_cpu(
    gateway: HttpStack, tmp_path: Path
) -> None:
    result_path = tmp_path / "bench.json"
    done = invoke(gateway.env, "bench", "-n", "400", "-c", "20", "--json", str(result_path))
    assert done.returncode == 0, done.stdout + done.stderr
    stats = json.loads(result_path.read_text())["service_stats"]
    # Every answer waited for its event's ack inside its processing time: a share above 0 and
    # below 1, a mean wait above 0 and below the mean processing time.
    assert 0 < stats["event_ack_share"] < 1
    assert 0 < stats["mean_event_ack_wait_ms"] < stats["average_processing_ms"]
    assert f"event ack share: {stats['event_ack_share']:.1%} of processing time" in done.stdout
    assert f"mean ack wait per event {stats['mean_event_ack_wait_ms']:.3f} ms" in done.stdout
    cpu = json.loads(result_path.read_text())["cpu_s"]
    assert set(nats_components()) <= set(cpu), cpu
