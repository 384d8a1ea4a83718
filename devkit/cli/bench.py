"""`invoke bench`: the benchmark, with the original benchmark's short flags -n and -c."""

from __future__ import annotations

import os
from typing import ClassVar

from invoke.context import Context
from invoke.tasks import task

from devkit import flags
from devkit.bench.options import BENCH_HELP, BenchOptions
from devkit.cli.friendly_task import FriendlyTask


class BenchTask(FriendlyTask):
    """Invoke picks short flags by first letter; the benchmark keeps the original's -n and -c."""

    SHORT: ClassVar[dict[str, str]] = {"requests": "n", "concurrency": "c"}

    def arg_opts(self, name: str, default: str, taken_names: set[str]) -> dict[str, object]:
        opts: dict[str, object] = super().arg_opts(
            name, default, taken_names | set(self.SHORT.values())
        )
        if name in self.SHORT:
            opts["names"] = [name, self.SHORT[name]]
        elif name == "http":  # -h would read as help
            opts["names"] = [name]
        return opts


@task(klass=BenchTask, help=BENCH_HELP, optional=["rate"])  # a bare --rate gets our message
def bench(
    c: Context,
    requests: str = "",
    concurrency: str = "1000",
    timeout: str = "5",
    ids: str = "1..1000",
    clients: str = "1",
    rate: str | bool = "",
    warmup: str = "0",
    context: str = "",
    creds: str = "",
    server: str = "",
    json_: str = "",
    baseline: bool = False,
    replicas: str = "",
    max_failures: str = "0",
    http: bool = False,
    duration: str = "",
    generator: str = "",
    peer: str = "",
) -> None:
    """Benchmark the service: throughput, latency percentiles, errors, CPU, and a baseline."""
    from devkit.bench.run import run_for_stack
    from devkit.stack.running import current_config

    options = BenchOptions.parse(
        requests=requests,
        concurrency=concurrency,
        timeout=timeout,
        ids=ids,
        clients=clients,
        rate=flags.given("--rate", rate, example="500"),
        warmup=warmup,
        context=context,
        creds=creds,
        server=server,
        json_=json_,
        baseline=baseline,
        replicas=replicas,
        max_failures=max_failures,
        http=http,
        duration=duration,
        generator=generator,
        peer=peer,
    )
    run_for_stack(current_config(), options, environ=os.environ)


TASKS = (bench,)
