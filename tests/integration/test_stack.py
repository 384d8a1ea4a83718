"""The native local stack through the real `invoke` commands a person types, on free ports."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from devkit.stack.processes import process_alive
from tests.support.commands import invoke, nats_components

pytestmark = pytest.mark.integration


def test_up_req_status_down(stack_env: dict[str, str]) -> None:
    started = invoke(stack_env, "up", "--replicas", "2")
    assert started.returncode == 0, started.stdout + started.stderr
    assert "balance-2" in started.stdout

    found = invoke(stack_env, "req", "678")
    assert found.returncode == 0, found.stderr
    assert set(json.loads(found.stdout)) == {"balance"}

    missing = invoke(stack_env, "req", "999999")
    assert missing.returncode != 0
    assert "404" in missing.stderr

    report = json.loads(invoke(stack_env, "status", "--json").stdout)
    assert {"nats_url", "dynamodb_endpoint", "table", "components"} <= set(report)
    components = {c["name"]: c for c in report["components"]}
    assert set(components) == {
        *nats_components(),
        "dynamodb",
        "gateway",
        "controlplane",
        "balance-1",
        "balance-2",
    }
    assert all(c["healthy"] for c in components.values())
    pids = [c["pid"] for c in components.values()]

    again = invoke(stack_env, "up", "--replicas", "2")
    assert again.returncode == 0
    assert "nothing changed" in again.stdout
    assert [
        c["pid"] for c in json.loads(invoke(stack_env, "status", "--json").stdout)["components"]
    ] == pids

    seeded = invoke(stack_env, "seed")
    assert "Already seeded" in seeded.stdout, seeded.stdout + seeded.stderr
    reseeded = invoke(stack_env, "seed", "--force", "--rows", "50")
    assert reseeded.returncode == 0
    assert "Seeded 50 rows" in reseeded.stdout

    result_path = Path(stack_env["STACK_DIR"]) / "bench.json"
    benched = invoke(stack_env, "bench", "-n", "200", "-c", "20", "--json", str(result_path))
    assert benched.returncode == 0, benched.stdout + benched.stderr
    assert "Total of 200 requests, with max concurrency 20" in benched.stdout
    result = json.loads(result_path.read_text())
    assert (result["requests"], result["ok"], result["timeouts"], result["errors"]) == (
        200,
        200,
        0,
        {},
    )
    assert result["service_stats"]["requests"] == 200
    assert set(result["latency_ms"]) == {"p50", "p90", "p99", "p999", "max"}
    assert {"generator", "nats", "dynamodb", "balance-1", "balance-2"} <= set(result["cpu_s"])

    logs = invoke(stack_env, "logs", "-c", "balance-1")
    assert '"event": "service.ready"' in logs.stdout

    stopped = invoke(stack_env, "down")
    assert stopped.returncode == 0
    assert not [pid for pid in pids if pid is not None and process_alive(pid)]
    assert json.loads(invoke(stack_env, "status", "--json").stdout)["components"] == []

    began = time.monotonic()
    seed_when_down = invoke(stack_env, "seed")
    assert time.monotonic() - began < 20
    assert seed_when_down.returncode == 1
    assert "the local stack is not running" in seed_when_down.stderr
    assert "start it with: invoke up" in seed_when_down.stderr
    assert "Traceback" not in seed_when_down.stdout + seed_when_down.stderr


def test_an_unreachable_nats_fails_at_once_with_the_real_cause(
    stack_env: dict[str, str],
) -> None:
    """nats-py's defaults took 2 minutes a try; the cause is the connect error, not a timeout."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))  # held, never listening: a connect is refused throughout
        url = f"nats://127.0.0.1:{holder.getsockname()[1]}"
        started = time.monotonic()
        result = invoke(stack_env, "bench", "-n", "10", "--server", url)
    assert time.monotonic() - started < 20
    assert result.returncode == 1
    assert f"connect to NATS at {url}" in result.stderr
    assert "Connect call failed" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_a_stack_whose_nats_died_fails_at_once_with_the_real_cause(
    stack_env: dict[str, str],
) -> None:
    assert invoke(stack_env, "up").returncode == 0
    report = json.loads(invoke(stack_env, "status", "--json").stdout)
    nats = next(c for c in report["components"] if c["name"] == "nats")
    if nats["pid"] is None:  # docker mode: every node's container
        project = stack_env.get("STACK_PROJECT", "customer-balance")
        subprocess.run(
            ["docker", "kill", *(f"{project}-{node}-1" for node in nats_components())],
            check=False,
            capture_output=True,
        )
    else:  # every nats-server: on the cluster, one node's death is a failover, not this test
        for node in (c for c in report["components"] if c["name"] in nats_components()):
            os.kill(node["pid"], signal.SIGKILL)
    for args in (("req", "678"), ("seed",)):
        started = time.monotonic()
        result = invoke(stack_env, *args)
        assert time.monotonic() - started < 20
        assert result.returncode == 1, args
        assert "Connect call failed" in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stdout + result.stderr


def test_a_busy_port_is_a_clear_error_and_starts_nothing(stack_env: dict[str, str]) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))  # held throughout: nobody else can take it
        holder.listen()
        busy = holder.getsockname()[1]
        stack_env["STACK_DYNAMODB_PORT"] = str(busy)
        result = invoke(stack_env, "up")
    assert result.returncode == 1
    assert f"port {busy}" in result.stderr
    assert "Traceback" not in result.stderr
    assert json.loads(invoke(stack_env, "status", "--json").stdout)["components"] == []


def test_contexts_drive_the_stack_with_the_nats_cli(
    stack_env: dict[str, str], nats_cli_path: str, tmp_path: Path
) -> None:
    env = {**stack_env, "XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    assert invoke(env, "up").returncode == 0
    selected = invoke(env, "context", "--select", "local-client")
    assert selected.returncode == 0, selected.stderr

    def nats_cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [nats_cli_path, *args], env=env, capture_output=True, text=True, timeout=30, check=False
        )

    reply = nats_cli(
        "--context", "local-client", "req", "customer.balance", '{"client_id":"678"}', "--raw"
    )
    assert reply.returncode == 0, reply.stderr
    assert set(json.loads(reply.stdout)) == {"balance"}
    via_selected = nats_cli("req", "customer.balance", '{"client_id":"678"}', "--raw")
    assert json.loads(via_selected.stdout) == json.loads(reply.stdout)

    info = nats_cli("--context", "local-client", "micro", "info", "customer")
    assert info.returncode == 0, info.stderr
    assert "Customer balances read from DynamoDB" in info.stdout
    assert "customer.balance" in info.stdout

    stats = nats_cli("--context", "local-client", "micro", "stats", "customer", "--json")
    assert stats.returncode == 0, stats.stderr
    [instance] = json.loads(stats.stdout)
    assert instance["endpoints"][0]["num_requests"] >= 2

    refused = nats_cli("--context", "local-client", "sub", "customer.balance")
    assert refused.returncode != 0
    assert "permissions violation" in (refused.stdout + refused.stderr).lower()
    # Nobody reads another user's replies: the shared inbox is closed to the client.
    for inbox in ("_INBOX.>", "_INBOX_service.>", "_INBOX_reader.>"):
        others = nats_cli("--context", "local-client", "sub", inbox)
        assert others.returncode != 0, inbox
        assert "permissions violation" in (others.stdout + others.stderr).lower()
    reader = nats_cli("--context", "local-reader", "stream", "info", "customer-balances", "-j")
    assert reader.returncode == 0, reader.stderr

    # The local administrator (local only) may look at JetStream; the client may not.
    streams = nats_cli("--context", "local-admin", "stream", "ls", "--names")
    assert streams.returncode == 0, streams.stderr
    assert "customer-balances" in streams.stdout.split()
    info = nats_cli("--context", "local-admin", "stream", "info", "customer-balances", "--json")
    assert json.loads(info.stdout)["config"]["max_bytes"] == 10 * 1024 * 1024
    client_streams = nats_cli("--context", "local-client", "stream", "ls")
    assert client_streams.returncode != 0

    removed = invoke(env, "context", "--remove")
    assert "local-client" in removed.stdout
    assert not (tmp_path / "xdg" / "nats" / "context" / "local-client.json").exists()
