"""`--peer original`: its flags, reading the original benchmark's output, the ratio, and a build
that cannot happen, without running the original."""

from __future__ import annotations

import os
import select
from pathlib import Path

import pytest
from hdrh.histogram import HdrHistogram

from devkit.bench.load import LoadResult
from devkit.bench.options import BenchOptions, peer_name
from devkit.bench.peer import (
    PeerError,
    go_duration_s,
    original_build,
    original_environment,
    own_bench_result,
    running_original,
)
from devkit.bench.peer_report import OwnBenchReport, peer_lines, peer_report
from devkit.bench.plan import BenchError
from devkit.bench.report import result_document
from devkit.flags import FlagError
from devkit.stack.ownership import OWNER_VARIABLE


def load_result(requests: int, duration_s: float, ok: int, timeouts: int = 0) -> LoadResult:
    histogram = HdrHistogram(1, 120_000_000, 3)
    histogram.record_value(1500)
    return LoadResult(
        requests=requests,
        concurrency=100,
        clients=1,
        rate=None,
        timeout_s=5.0,
        duration_s=duration_s,
        histogram=histogram,
        ok=ok,
        errors={"500": requests - ok - timeouts} if requests - ok - timeouts else {},
        timeouts=timeouts,
        no_responders=0,
        failed=0,
        generator_cpu_s=0.1,
    )


def test_the_ratio_is_ours_over_the_originals() -> None:
    ours = result_document(load_result(1000, 0.25, 1000))  # 4,000 req/s
    peer = peer_report(load_result(1000, 2.0, 900, timeouts=98), 0.9, ours, [])
    assert (peer.throughput_rps, peer.goodput_rps) == (500.0, 450.0)
    assert peer.throughput_ratio == 8.0
    assert peer.goodput_ratio == round(4000.0 / 450.0, 2)
    assert peer.cpu_us_per_answered_request == 1000.0
    assert (peer.errors, peer.timeouts) == ({"500": 2}, 98)  # its errors are reported
    lines = "\n".join(peer_lines(peer))
    assert "this service / original: throughput 8.00x" in lines
    assert "errors {'500': 2}  timeouts 98" in lines


def test_a_peer_that_answered_nothing_has_no_ratio_but_a_report() -> None:
    ours = result_document(load_result(1000, 0.25, 1000))
    peer = peer_report(load_result(1000, 5.0, 0, timeouts=1000), 0.2, ours, [])
    assert peer.goodput_ratio is None
    assert peer.cpu_us_per_answered_request is None
    assert "answered in time n/a" in "\n".join(peer_lines(peer))


def test_the_original_benchmarks_summary_is_read() -> None:
    said = own_bench_result(
        "2026/12/05 06:56:30 Sending requests to the service...\n2026/12/05 06:56:33 Total of 3000"
        " requests, with max concurrency 1000, and request timeout 5s, completed in 1.5s. Average"
        " call took 0.50 milliseconds\n"
    )
    assert (said.requests, said.seconds, said.rps) == (3000, 1.5, 2000.0)


def test_the_original_benchmark_stopping_on_an_error_is_its_last_line() -> None:
    said = own_bench_result(
        "Sending requests to the service...\nError unmarshalling response: invalid character 'c'\n"
    )
    assert (said.requests, said.rps) == (None, None)
    assert said.said == "Error unmarshalling response: invalid character 'c'"
    line = peer_lines(
        peer_report(
            load_result(10, 1.0, 10),
            0.1,
            result_document(load_result(10, 1.0, 10)),
            [OwnBenchReport(against="original", requests=None, seconds=None, rps=None, said="x")],
        ),
    )[-1]
    assert line == "the original's own benchmark client against original: no summary; it said: x"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("4.5s", 4.5), ("850ms", 0.85), ("1m2.5s", 62.5), ("1h0m0s", 3600.0), ("12µs", 12e-6)],
)
def test_go_durations(text: str, seconds: float) -> None:
    assert go_duration_s(text) == pytest.approx(seconds)


def test_peer_flag_errors_are_one_line() -> None:
    assert peer_name("", remote=False, replica_counts=[]) == ""
    assert peer_name("Original", remote=False, replica_counts=[]) == "original"
    for text, remote, counts, says in [
        ("nats-bench", False, [], "--peer takes original, not 'nats-bench'"),
        ("original", True, [], "not with a remote target"),
        ("original", False, [1, 3], "not with --replicas"),
    ]:
        with pytest.raises(FlagError, match=says) as raised:
            peer_name(text, remote=remote, replica_counts=counts)
        assert "\n" not in str(raised.value)


def test_options_refuse_a_peer_for_a_remote_target() -> None:
    with pytest.raises(FlagError, match="--peer runs the original on the local stack"):
        BenchOptions.parse(
            requests="10", concurrency="2", timeout="5", ids="1..3", clients="1", rate="",
            warmup="0", context="", creds="", server="nats://elsewhere:4222", json_="",
            baseline=False, replicas="", max_failures="0", peer="original",
        )  # fmt: skip


def test_a_build_without_the_script_is_one_line_and_exit_2(tmp_path: Path) -> None:
    with pytest.raises(PeerError) as raised:
        original_build(tmp_path / "cache", script=tmp_path / "no-such-script")
    assert raised.value.exit_code == 2
    assert "no-such-script is missing" in str(raised.value)


def test_a_build_that_fails_says_its_last_line(tmp_path: Path) -> None:
    script = tmp_path / "original-clients"
    script.write_text("#!/bin/sh\necho 'go: module lookup disabled by GOPROXY=off' >&2\nexit 1\n")
    script.chmod(0o755)
    with pytest.raises(PeerError, match=r"GOPROXY=off$"):
        original_build(tmp_path / "cache", script=script)


def test_a_build_that_hangs_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    script = tmp_path / "original-clients"
    script.write_text("#!/bin/sh\nexec sleep 30\n")
    script.chmod(0o755)
    with pytest.raises(PeerError, match=r"original-clients did not finish in 0.5 s$"):
        original_build(tmp_path / "cache", script=script, within_s=0.5)


def test_the_original_carries_the_stacks_owner_mark(tmp_path: Path) -> None:
    """So `invoke down` finds it if the bench dies without stopping it."""
    creds = tmp_path / "admin.creds"
    creds.write_text("creds")
    environment = original_environment(
        "nats://127.0.0.1:4222", creds, "t", "http://127.0.0.1:8000", owner=str(tmp_path)
    )
    assert environment[OWNER_VARIABLE] == str(tmp_path)


def test_a_cached_build_is_not_rebuilt(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "original-service").write_text("")
    (cache / "original-bench").write_text("")
    built = original_build(cache, script=tmp_path / "never-run")
    assert built.service == cache / "original-service"


def fake_original(tmp_path: Path, script: str) -> Path:
    binary = tmp_path / "original-service"
    binary.write_text("#!/bin/sh\n" + script)
    binary.chmod(0o755)
    return binary


def test_the_originals_log_is_read_while_it_runs(tmp_path: Path) -> None:
    """It logs a line per request; a pipe nobody reads fills at 64 KiB and stops it."""
    log_a_lot = "echo 'service ready' >&2\nhead -c 400000 /dev/zero | tr '\\0' x | fold -w 99 >&2\n"
    with running_original(fake_original(tmp_path, log_a_lot), {"PATH": "/usr/bin:/bin"}) as run:
        handle = os.pidfd_open(run.pid)
        try:
            exited, _, _ = select.select([handle], [], [], 30)
        finally:
            os.close(handle)
    assert exited, "the original blocked writing its log"


def test_an_original_that_does_not_start_says_its_last_line(tmp_path: Path) -> None:
    fails = (
        "echo 'connecting to NATS ...' >&2\necho 'error connecting to NATS: refused' >&2\nexit 1\n"
    )
    with (
        pytest.raises(BenchError, match="did not start: error connecting to NATS: refused"),
        running_original(fake_original(tmp_path, fails), {"PATH": "/usr/bin:/bin"}),
    ):
        pass
