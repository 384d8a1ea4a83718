"""The floors' arithmetic: each floor, each ratio, and the lines a person reads, without a stack."""

from __future__ import annotations

from typing import Any

from hdrh.histogram import HdrHistogram

from devkit.bench.floors import FloorRun
from devkit.bench.load import LoadResult
from devkit.bench.ratios import ratio, service_floor_cpu
from devkit.bench.report import BaselineFigures, RunContext, render, result_document
from devkit.bench.stats import StatsDelta


def load_result(requests: int = 1000) -> LoadResult:
    histogram = HdrHistogram(1, 120_000_000, 3)
    histogram.record_value(2000)
    return LoadResult(
        requests=requests,
        concurrency=100,
        clients=1,
        rate=None,
        timeout_s=5.0,
        duration_s=2.0,
        histogram=histogram,
        ok=requests,
        errors={},
        timeouts=0,
        no_responders=0,
        failed=0,
        generator_cpu_s=0.2,
    )


def baseline(**floors: Any) -> BaselineFigures:
    return BaselineFigures(
        getitem_rps=1000.0,
        batchgetitem_items_per_s=5000.0,
        nats_echo_rps=20000.0,
        dynamodb_concurrency=100,
        duration_s_each=5.0,
        **floors,
    )


def test_the_service_floor_is_the_responder_plus_one_items_dynamodb_share() -> None:
    assert service_floor_cpu(40.0, 30.5) == 70.5
    assert service_floor_cpu(None, 30.5) is None
    assert service_floor_cpu(40.0, None) is None


def test_a_ratio_is_the_measured_figure_over_its_floor() -> None:
    assert ratio(130.0, 100.0) == 1.3
    assert ratio(100.0, 70.5) == 1.42
    assert ratio(None, 70.5) is None
    assert ratio(100.0, None) is None
    assert ratio(100.0, 0.0) is None  # a floor of nothing measured is no floor


def test_a_floor_run_counts_cpu_per_answered_request() -> None:
    assert FloorRun(requests=4000, cpu_s=0.2, duration_s=2.0).cpu_us_per_request == 50.0
    assert FloorRun(requests=4000, cpu_s=0.2, duration_s=2.0).rps == 2000.0
    assert FloorRun(requests=0, cpu_s=0.2, duration_s=2.0).cpu_us_per_request is None


def test_the_service_ratio_is_in_the_json_and_the_report() -> None:
    result = load_result()
    document = result_document(
        result,
        stats=StatsDelta(instances=1, requests=1000, errors=0, average_processing_ms=1.0),
        cpu_s={"balance-1": 0.12},
        baseline=baseline(
            dynamodb_batch_keys=100,
            dynamodb_cpu_us_per_item=30.0,
            service_floor_rps=8000.0,
            service_floor_nats_cpu_us_per_request=50.0,
        ),
    )
    figures = document.document()["baseline"]
    assert document.service_cpu_us_per_request == 120.0
    assert figures["service_floor_cpu_us_per_request"] == 80.0
    assert figures["service_cpu_to_floor"] == 1.5
    assert figures["service_floor_target"] == 1.3
    assert figures["gateway_cpu_to_floor"] is None
    lines = render(document, result)
    assert "service CPU per answered request vs its floor: 120.0 us / 80.0 us = 1.50x" in "\n".join(
        lines
    )
    assert any("(target <= 1.3x: not met)" in line for line in lines)
    assert not any(line.startswith("gateway floor") for line in lines)


def test_the_gateway_ratio_with_http() -> None:
    result = load_result(2000)
    document = result_document(
        result,
        cpu_s={"gateway": 0.2},
        baseline=baseline(gateway_floor_rps=3000.0, gateway_floor_cpu_us_per_request=80.0),
        context=RunContext(transport="http"),
    )
    figures = document.document()["baseline"]
    assert document.gateway_cpu_us_per_request == 100.0
    assert figures["gateway_cpu_to_floor"] == 1.25
    assert figures["service_cpu_to_floor"] is None
    lines = render(document, result)
    assert any("= 1.25x (target <= 1.5x: met)" in line for line in lines)


def test_a_ratio_without_the_components_cpu_says_so() -> None:
    result = load_result()
    document = result_document(
        result,
        baseline=baseline(
            dynamodb_batch_keys=100,
            dynamodb_cpu_us_per_item=30.0,
            service_floor_rps=8000.0,
            service_floor_nats_cpu_us_per_request=50.0,
        ),
    )
    assert any("vs its floor: not measured" in line for line in render(document, result))
