"""What a run's figures can and cannot support, said next to them: comparisons with the
original's published figures only when the runs are alike, and warnings where a figure is
too thin to read (a short run, few samples, the CPU clock's 10 ms ticks, a rate not kept)."""

from __future__ import annotations

import os

from devkit.bench.load import LoadResult

ORIGINAL_CONCURRENCY = 1_000
ORIGINAL_FIGURES: dict[int, list[tuple[str, float]]] = {
    1_000: [("1 Fargate task, Synadia Cloud", 2.05)],
    10_000: [("1 Fargate task, Synadia Cloud", 20.6)],
    100_000: [("1 Fargate task, Synadia Cloud", 254.8), ("3 Fargate tasks, Synadia Cloud", 94.0)],
}
"""Seconds the original Go benchmark published for N requests at concurrency 1,000, closed loop."""

SHORT_RUN_S = 5.0
SAMPLES_FOR = {"p99": 100, "p99.9": 1_000}
"""The fewest replies for a percentile to rest on at least ten samples above it."""
RATE_KEPT = 0.95
CPU_TICK_S = 1 / os.sysconf("SC_CLK_TCK")
"""/proc counts CPU in clock ticks (10 ms here): a per-request figure needs many of them."""
CPU_TICKS_FOR_A_FIGURE = 100


def comparison_lines(result: LoadResult) -> list[str]:
    """Against the original's figures only for the same N, concurrency 1,000 and closed loop."""
    figures = ORIGINAL_FIGURES.get(result.requests)
    alike = result.concurrency == ORIGINAL_CONCURRENCY and result.rate is None
    if not figures or not alike:
        known = ", ".join(f"{n:,}" for n in ORIGINAL_FIGURES)
        return [
            "Not compared with the original's published figures: those are for"
            f" {known} requests at concurrency 1,000, closed loop."
        ]
    return [
        f"original, {where}: {seconds:g} s ({result.requests / seconds:,.0f} req/s);"
        f" this run: {result.duration_s:.2f} s ({result.throughput_rps:,.0f} req/s)"
        for where, seconds in figures
    ] + [
        "  (not like for like: this run's stack, emulator and generator share one machine;"
        " the original ran on AWS Fargate, DynamoDB and Synadia Cloud over the internet)"
    ]


def warnings(result: LoadResult, *, replicas_cpu_s: float | None) -> list[str]:
    found = []
    if result.duration_s < SHORT_RUN_S:
        found.append(
            f"a {result.duration_s:.2f} s run is too short for steady figures"
            f" (aim for {SHORT_RUN_S * 2:g} s or more: raise -n)"
        )
    for percentile, needed in SAMPLES_FOR.items():
        if result.samples < needed:
            found.append(
                f"{result.samples} replies cannot support a {percentile}"
                f" (it needs {needed:,} or more)"
            )
    if replicas_cpu_s is not None and replicas_cpu_s < CPU_TICKS_FOR_A_FIGURE * CPU_TICK_S:
        found.append(
            f"the service's CPU per request rests on {replicas_cpu_s / CPU_TICK_S:.0f} ticks of"
            f" the {CPU_TICK_S * 1000:g} ms CPU clock: too few to read (raise -n)"
        )
    if result.rate is not None and result.send_s > 0:
        sent_rate = result.requests / result.send_s
        if sent_rate < RATE_KEPT * result.rate:
            found.append(
                f"the generator sent {sent_rate:,.0f} req/s, not the {result.rate:,.0f} asked:"
                " the target rate was not reached (raise --concurrency or --clients)"
            )
    return found
