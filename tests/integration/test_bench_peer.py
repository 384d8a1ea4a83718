"""`invoke bench --peer original` on a real stack: the original Go service runs after this one
under the same load, its figures and the ratio are printed and in the JSON, its errors are
reported, and this service's replicas and table are as they were after."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.support.commands import invoke

pytestmark = [
    pytest.mark.integration,
    pytest.mark.serial("a benchmark against the original: throughput ratios"),
]


def test_the_original_runs_as_a_peer_and_the_ratio_is_printed(
    stack_env: dict[str, str], original_control_plane: Path, tmp_path: Path
) -> None:
    assert invoke(stack_env, "up").returncode == 0
    before = invoke(stack_env, "req", "678").stdout
    cache = Path(stack_env["STACK_DIR"]) / "peers" / "original"
    cache.mkdir(parents=True)
    for name in ("original-service", "original-bench"):  # built once for the session
        shutil.copy2(original_control_plane.parent / name, cache / name)
    result_path = tmp_path / "peer.json"
    args = ("bench", "-n", "300", "-c", "20", "--peer", "original", "--json", str(result_path))
    benched = invoke(stack_env, *args)
    if stack_env["STACK_MODE"] != "native":  # its replicas are containers: refused, one line
        assert benched.returncode == 2
        assert "needs a native stack" in benched.stderr
        return
    assert benched.returncode == 0, benched.stdout + benched.stderr
    document = json.loads(result_path.read_text())
    peer = document["peer"]
    assert peer["name"] == "original"
    assert peer["ok"] + sum(peer["errors"].values()) + peer["timeouts"] + peer["failed"] == 300
    assert peer["ok"] > 0  # it served as the `peer` user: its subscriptions were allowed
    assert peer["no_responders"] == 0
    assert peer["throughput_rps"] > 0
    assert peer["cpu_s"] > 0
    assert peer["throughput_ratio"] == round(document["throughput_rps"] / peer["throughput_rps"], 2)
    assert f"this service / original: throughput {peer['throughput_ratio']:.2f}x" in benched.stdout
    assert [own["against"] for own in peer["own_bench"]] == ["original", "this service"]
    assert all(own["said"] for own in peer["own_bench"])
    ours = peer["own_bench"][1]
    assert (ours["requests"], ours["rps"] > 0) == (300, True)  # its client works against ours
    assert (
        invoke(stack_env, "req", "678").stdout == before
    )  # our replicas back, the table as it was
    status = json.loads(invoke(stack_env, "status", "--json").stdout)
    assert [c["name"] for c in status["components"] if c["name"].startswith("balance-")] == [
        "balance-1"
    ]
