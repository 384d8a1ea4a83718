"""`invoke bench --baseline` and `--http` on a real stack: each floor and each ratio is printed and
in the JSON, with figures that were measured (not their size: performance is benchmarks)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from devkit import platform_names
from devkit.auth.security import creds_path
from devkit.caller import connect_client
from tests.support.commands import invoke
from tests.support.gateway import HttpStack

pytestmark = [
    pytest.mark.integration,
    pytest.mark.serial("a benchmark: rates, CPU and latency floors"),
]


def benched(gateway: HttpStack, tmp_path: Path, *flags: str) -> tuple[str, dict[str, Any]]:
    result_path = tmp_path / "bench.json"
    done = invoke(gateway.env, "bench", "-n", "400", "-c", "20", *flags, "--json", str(result_path))
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout, json.loads(result_path.read_text())


def streams(gateway: HttpStack) -> list[str]:
    """The account's stream names, as the local admin user sees them."""

    async def names() -> list[str]:
        creds = creds_path(Path(gateway.env["STACK_DIR"]), platform_names.ADMIN_USER)
        nc = await connect_client(gateway.nats_url, name="test-streams", creds=creds)
        try:
            return sorted(info.config.name or "" for info in await nc.jetstream().streams_info())
        finally:
            await nc.close()

    return asyncio.run(names())


def test_the_service_floor_and_its_ratio(gateway: HttpStack, tmp_path: Path) -> None:
    before = streams(gateway)
    stdout, document = benched(gateway, tmp_path, "--baseline")
    figures = document["baseline"]
    assert figures["dynamodb_batch_keys"] == 100  # the service's own batch size
    assert figures["dynamodb_cpu_us_per_item"] > 0
    assert figures["service_floor_rps"] > 0
    assert figures["service_floor_nats_cpu_us_per_request"] > 0
    floor = figures["service_floor_cpu_us_per_request"]
    assert floor == round(
        figures["service_floor_nats_cpu_us_per_request"] + figures["dynamodb_cpu_us_per_item"], 1
    )
    service = document["service_cpu_us_per_request"]
    assert figures["service_cpu_to_floor"] == round(service / floor, 2)
    assert figures["service_floor_target"] == 1.3
    assert figures["gateway_cpu_to_floor"] is None  # the NATS path has no gateway to hold
    assert f"service CPU per answered request vs its floor: {service} us / {floor} us" in stdout
    assert streams(gateway) == before  # the floor's own stream is gone, the service's untouched


def test_the_gateway_floor_with_the_go_generator(gateway: HttpStack, tmp_path: Path) -> None:
    stdout, document = benched(gateway, tmp_path, "--http", "--baseline")
    assert document["generator"] == "vegeta"
    assert (document["ok"], document["timeouts"], document["failed"]) == (400, 0, 0)
    assert document["cpu_s"]["generator"] > 0
    figures = document["baseline"]
    assert figures["gateway_floor_rps"] > 0
    floor = figures["gateway_floor_cpu_us_per_request"]
    assert floor > 0
    gateway_cpu = document["gateway_cpu_us_per_request"]
    assert figures["gateway_cpu_to_floor"] == round(gateway_cpu / floor, 2)
    assert figures["gateway_floor_target"] == 1.5
    assert "vegeta (Go), one process" in stdout
    assert f"gateway CPU per request vs its floor: {gateway_cpu} us / {floor} us" in stdout


def test_the_python_generator_stays_selectable_over_http(
    gateway: HttpStack, tmp_path: Path
) -> None:
    _, document = benched(gateway, tmp_path, "--http", "--generator", "python", "--rate", "400")
    assert (document["generator"], document["transport"], document["ok"]) == ("python", "http", 400)


def test_vegeta_keeps_a_fixed_rate(gateway: HttpStack, tmp_path: Path) -> None:
    _, document = benched(gateway, tmp_path, "--http", "--rate", "400")
    assert (document["generator"], document["rate"], document["ok"]) == ("vegeta", 400.0, 400)
    assert document["latency_ms"]["p50"] > 0


def test_a_generator_the_run_cannot_use_is_one_line_and_exit_2(gateway: HttpStack) -> None:
    refused = invoke(gateway.env, "bench", "-n", "10", "--generator", "vegeta")
    assert refused.returncode == 2
    assert refused.stderr.strip().count("\n") == 0
    assert "--generator vegeta sends HTTP: give --http too" in refused.stderr
