from __future__ import annotations

import pytest
from hdrh.histogram import HdrHistogram

from service.bench import (
    BenchError,
    LoadResult,
    comparison_lines,
    parse_ids,
    result_document,
    split,
    stats_delta,
    summary_line,
)


def load_result(requests: int = 1000, duration_s: float = 2.0) -> LoadResult:
    histogram = HdrHistogram(1, 120_000_000, 3)
    for micros in range(1000, 1000 + requests):
        histogram.record_value(micros)
    return LoadResult(
        requests=requests,
        concurrency=1000,
        clients=2,
        rate=None,
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
    with pytest.raises(BenchError):
        parse_ids("5..1")
    with pytest.raises(BenchError):
        parse_ids("a..b")
    with pytest.raises(BenchError):
        parse_ids(" , ")


def test_split_is_fair_and_complete() -> None:
    assert split(10, 3) == [4, 3, 3]
    assert sum(split(100_001, 4)) == 100_001


def test_the_original_summary_line() -> None:
    assert summary_line(load_result()) == (
        "Total of 1000 requests, with max concurrency 1000, and request timeout 5s, completed in"
        " 2.000s. Average call took 2.00 milliseconds"
    )


def test_comparison_with_the_published_figures() -> None:
    [line] = comparison_lines(load_result(1000, 1.0))
    assert "2.05 s" in line
    assert "1,000 req/s" in line
    assert len(comparison_lines(load_result(100_000, 50.0))) == 2
    assert "only" in comparison_lines(load_result(123))[0]


def test_stats_delta_sums_instances_and_counts_new_ones_whole() -> None:
    before = {"a": {"num_requests": 10, "num_errors": 1, "processing_time": 1_000_000}}
    after = {
        "a": {"num_requests": 110, "num_errors": 2, "processing_time": 101_000_000},
        "b": {"num_requests": 100, "num_errors": 0, "processing_time": 100_000_000},
    }
    assert stats_delta(before, after) == {
        "instances": 2,
        "requests": 200,
        "errors": 1,
        "average_processing_ms": 1.0,
    }


def test_the_json_document_has_every_required_field() -> None:
    document = result_document(
        load_result(),
        stats={"instances": 1, "requests": 1000, "errors": 3, "average_processing_ms": 1.0},
        cpu_s={"balance-1": 0.5, "nats": 0.1},
        baseline={
            "getitem_rps": 1000.0,
            "batchgetitem_items_per_s": 5000.0,
            "nats_echo_rps": 20000.0,
        },
    )
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
    assert document["service_cpu_us_per_request"] == 500.0
