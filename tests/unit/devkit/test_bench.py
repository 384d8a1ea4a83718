"""The benchmark's arithmetic and its JSON document, without a stack."""

from __future__ import annotations

import pytest
from hdrh.histogram import HdrHistogram

from devkit.bench.caveats import comparison_lines, warnings
from devkit.bench.load import LoadResult
from devkit.bench.plan import parse_ids, split
from devkit.bench.report import BaselineFigures, render, result_document, summary_line
from devkit.bench.stats import StatsDelta, stats_delta
from devkit.flags import FlagError
from service.discovery import EndpointStats


def load_result(
    requests: int = 1000,
    duration_s: float = 2.0,
    *,
    concurrency: int = 1000,
    rate: float | None = None,
    answered: int | None = None,
    send_s: float = 0.0,
) -> LoadResult:
    histogram = HdrHistogram(1, 120_000_000, 3)
    for micros in range(1000, 1000 + (requests if answered is None else answered)):
        histogram.record_value(micros)
    return LoadResult(
        requests=requests,
        concurrency=concurrency,
        clients=2,
        rate=rate,
        send_s=send_s,
        timeout_s=5.0,
        duration_s=duration_s,
        histogram=histogram,
        ok=requests - 3,
        errors={"404": 3},
        timeouts=0,
        no_responders=0,
        failed=0,
        generator_cpu_s=1.5,
    )


def test_ids_ranges_and_lists() -> None:
    assert parse_ids("1..3") == ("1", "2", "3")
    assert parse_ids("1..2,vip, x") == ("1", "2", "vip", "x")
    with pytest.raises(FlagError):
        parse_ids("5..1")
    with pytest.raises(FlagError):
        parse_ids("a..b")
    with pytest.raises(FlagError):
        parse_ids(" , ")


def test_split_is_fair_and_complete() -> None:
    assert split(10, 3) == [4, 3, 3]
    assert sum(split(100_001, 4)) == 100_001


def test_the_original_summary_line() -> None:
    assert summary_line(load_result()) == (
        "Total of 1000 requests, with max concurrency 1000, and request timeout 5s, completed in"
        " 2.000s. Average call took 2.00 milliseconds"
    )


def test_comparison_with_the_published_figures_only_when_alike() -> None:
    lines = comparison_lines(load_result(1000, 1.0))
    assert "2.05 s" in lines[0]
    assert "1,000 req/s" in lines[0]
    assert "not like for like" in lines[-1]
    assert len(comparison_lines(load_result(100_000, 50.0))) == 3
    for unlike in (
        load_result(123),
        load_result(1000, concurrency=1),
        load_result(1000, rate=200.0),
    ):
        [line] = comparison_lines(unlike)
        assert line.startswith("Not compared with the original's published figures")


def test_the_original_line_is_labelled_for_what_it_is() -> None:
    result = load_result()
    lines = render(result_document(result), result)
    assert "wall time / N, closed loop, not a latency" in lines[0]
    assert lines[1] == "  " + summary_line(result)


def test_thin_figures_are_warned_about() -> None:
    short = warnings(load_result(200, 0.09), replicas_cpu_s=0.01)
    assert any("too short" in w for w in short)
    assert any("cannot support a p99.9" in w for w in short)
    assert any("ticks of the" in w for w in short)
    slow = warnings(load_result(10_000, 20.0, rate=100_000.0, send_s=19.0), replicas_cpu_s=5.0)
    assert slow == [
        "the generator sent 526 req/s, not the 100,000 asked: the target rate was not reached"
        " (raise --concurrency or --clients)"
    ]
    assert warnings(load_result(10_000, 20.0), replicas_cpu_s=5.0) == []


def test_no_answer_means_no_latency_not_zero() -> None:
    result = load_result(10, answered=0)
    document = result_document(result)
    assert document.latency_ms.p50 is None
    assert document.document()["latency_ms"]["max"] is None
    assert "p50 n/a" in render(document, result)[3]


def endpoint(
    requests: int, errors: int, processing_ns: int, expired: int = 0, limit: int = 1000
) -> EndpointStats:
    return EndpointStats(
        name="balance",
        subject="customer.balance",
        num_requests=requests,
        num_errors=errors,
        last_error="",
        processing_time=processing_ns,
        average_processing_time=processing_ns // requests,
        data={"expired": expired, "concurrency_limit": limit},
    )


def test_stats_delta_sums_instances_and_counts_new_ones_whole() -> None:
    before = {"a": endpoint(10, 1, 1_000_000, expired=4)}
    after = {
        "a": endpoint(110, 2, 101_000_000, expired=10, limit=480),
        "b": endpoint(100, 0, 100_000_000, expired=1),
    }
    assert stats_delta(before, after) == StatsDelta(
        instances=2,
        requests=200,
        errors=1,
        average_processing_ms=1.0,
        expired=7,
        concurrency_limits=[480, 1000],
    )


def test_the_json_document_has_every_required_field() -> None:
    result = result_document(
        load_result(),
        stats=StatsDelta(instances=1, requests=1000, errors=3, average_processing_ms=1.0),
        cpu_s={"balance-1": 0.5, "nats": 0.1},
        baseline=BaselineFigures(
            getitem_rps=1000.0,
            batchgetitem_items_per_s=5000.0,
            nats_echo_rps=20000.0,
            dynamodb_concurrency=256,
            duration_s_each=5.0,
        ),
    )
    document = result.document()
    assert {
        "requests",
        "concurrency",
        "duration_s",
        "throughput_rps",
        "latency_ms",
        "ok",
        "errors",
        "timeouts",
        "no_responders",
        "baseline",
    } <= set(document)
    assert document["throughput_rps"] == 500.0
    assert document["latency_ms"]["p50"] == pytest.approx(1.5, rel=0.01)
    assert document["baseline"]["fraction_of_getitem"] == 0.5
    assert document["baseline"]["fraction_of_batchgetitem"] == 0.1
    assert document["service_cpu_us_per_request"] == 501.5  # 0.5 s over 997 answered, not 1,000


def test_figures_not_measured_are_absent_from_the_json() -> None:
    document = result_document(load_result()).document()
    assert "baseline" not in document
    assert "service_cpu_us_per_request" not in document
    assert document["service_stats"] is None
    assert document["rate"] is None
