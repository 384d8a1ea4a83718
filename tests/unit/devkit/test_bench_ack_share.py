"""The event ack share and the mean ack wait: from the replicas' `$SRV.STATS`, into the report."""

from __future__ import annotations

from pydantic import JsonValue

from devkit.bench.report import render, result_document
from devkit.bench.stats import StatsDelta, ack_wait_figures, stats_delta
from service.discovery import EndpointStats
from tests.unit.devkit.test_bench import load_result


def endpoint(
    requests: int, errors: int, processing_ns: int, ack_wait_ns: int | None, ack_waits: int = 0
) -> EndpointStats:
    data: dict[str, JsonValue] = (
        {"expired": 0}
        if ack_wait_ns is None
        else {"event_ack_wait_ns": ack_wait_ns, "event_ack_waits": ack_waits}
    )
    return EndpointStats(
        name="balance",
        subject="customer.balance",
        num_requests=requests,
        num_errors=errors,
        last_error="",
        processing_time=processing_ns,
        average_processing_time=processing_ns // requests,
        data=data,
    )


def test_the_share_is_ack_wait_over_processing_and_the_mean_is_per_wait() -> None:
    assert ack_wait_figures(300_000_000, 1_200_000_000, 150) == {
        "event_ack_share": 0.25,
        "mean_event_ack_wait_ms": 2.0,
    }


def test_nothing_to_divide_by_is_no_figure() -> None:
    assert ack_wait_figures(0, 0, 0) == {"event_ack_share": None, "mean_event_ack_wait_ms": None}


def test_the_delta_sums_the_run_only_and_counts_a_new_replica_whole() -> None:
    before = {"a": endpoint(10, 0, 10_000_000, ack_wait_ns=4_000_000, ack_waits=10)}
    after = {
        "a": endpoint(110, 10, 110_000_000, ack_wait_ns=44_000_000, ack_waits=105),
        "b": endpoint(100, 0, 100_000_000, ack_wait_ns=20_000_000, ack_waits=100),
    }
    delta = stats_delta(before, after)
    # ack wait 40 + 20 ms of processing 100 + 100 ms; 95 + 100 waits (a failed lookup waits for
    # no event, a failed event's wait counts), not the 190 answered without an error
    assert delta.event_ack_share == 0.3
    assert delta.mean_event_ack_wait_ms == round(60 / 195, 3)


def test_replicas_that_do_not_count_ack_waits_give_no_figure() -> None:
    after = {"a": endpoint(100, 0, 100_000_000, ack_wait_ns=None)}
    delta = stats_delta({}, after)
    assert delta.event_ack_share is None
    assert delta.mean_event_ack_wait_ms is None


def test_the_report_prints_both_and_the_json_carries_them() -> None:
    stats = StatsDelta(
        instances=1,
        requests=1000,
        errors=0,
        average_processing_ms=4.0,
        event_ack_share=0.375,
        mean_event_ack_wait_ms=1.5,
    )
    document = result_document(load_result(), stats=stats, cpu_s={"balance-1": 0.5})
    assert document.document()["service_stats"]["event_ack_share"] == 0.375
    assert document.document()["service_stats"]["mean_event_ack_wait_ms"] == 1.5
    text = "\n".join(render(document, load_result()))
    assert "event ack share: 37.5% of processing time" in text
    assert "mean ack wait per event 1.500 ms" in text
