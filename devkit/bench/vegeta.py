"""The HTTP load generator in Go (vegeta, pinned in devkit.gotools): the same plan as the Python
generator, for the gateway path, at a fraction of its CPU.

The targets go to its stdin (the token never appears on a command line or on disk), one per
request, read lazily, so the run ends after exactly N requests: a closed loop of `concurrency` workers, or an
open loop at `--rate` with as many workers as the schedule needs. Each request's result comes
back as CSV (`vegeta encode --to csv`) and is counted here as the Python generator counts it.
"""

from __future__ import annotations

import base64
import csv
import email.parser
import io
import resource
import subprocess
import tempfile
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import orjson
from hdrh.histogram import HdrHistogram

from devkit.bench.load import DIGITS, HIGHEST_US, LOWEST_US, LoadResult
from devkit.bench.plan import BenchError, LoadPlan, ServiceAddress
from devkit.bench.transports import HEADER_PREFIX
from devkit.gotools import VEGETA, ensure_tool
from service import names
from service.protocol import decode_reply, encode_request

NO_TARGETS = "no targets to attack"
"""vegeta's last result when the lazy targets ran out: the end of the run, not a request."""
STOP_WITHIN_S = 5.0
"""How long vegeta has to stop when the command is interrupted before it is killed."""
TIMED_OUT = ("Client.Timeout", "context deadline exceeded", "timeout")
"""How vegeta's error for a request that ran out of time reads."""


def gateway_url(target: ServiceAddress, timeout_s: float) -> str:
    """The same call the Python generator makes (devkit.bench.transports)."""
    return f"{target.url}/v1/nats/subjects/{names.REQUEST_SUBJECT}?timeout={int(timeout_s * 1000)}"


def targets(target: ServiceAddress, plan: LoadPlan) -> Iterator[bytes]:
    """One JSON target line per request, cycling through the plan's customers."""
    url = gateway_url(target, plan.timeout_s)
    header = {"Authorization": [target.http_token or ""], "Accept": ["text/plain"]}
    bodies = [base64.b64encode(encode_request(i)).decode() for i in plan.ids]
    for index in range(plan.requests):
        yield (
            orjson.dumps(
                {
                    "method": "POST",
                    "url": url,
                    "body": bodies[index % len(bodies)],
                    "header": header,
                }
            )
            + b"\n"
        )


def attack_arguments(plan: LoadPlan, results_file: Path) -> list[str]:
    """`vegeta attack`'s flags for the plan: a fixed rate (open loop), or `concurrency` workers
    sending as fast as answers come back (closed loop)."""
    arguments = [
        "attack",
        "-format=json",
        "-lazy",
        "-targets=stdin",
        f"-output={results_file}",
        f"-timeout={plan.timeout_s + 1:g}s",
        "-http2=false",
        f"-max-connections={plan.concurrency}",
        f"-connections={plan.concurrency}",
    ]
    if plan.rate is None:
        workers = plan.concurrency
        return [*arguments, "-rate=0", f"-workers={workers}", f"-max-workers={workers}"]
    return [*arguments, f"-rate={plan.rate:g}/1s", f"-max-workers={plan.concurrency}"]


@dataclass
class Tally:
    """The results counted as the Python generator counts them (devkit.bench.load)."""

    histogram: HdrHistogram = field(
        default_factory=lambda: HdrHistogram(LOWEST_US, HIGHEST_US, DIGITS)
    )
    ok: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    timeouts: int = 0
    no_responders: int = 0
    failed: int = 0
    first_ns: int | None = None
    last_ns: int = 0
    last_sent_ns: int = 0

    @property
    def requests(self) -> int:
        return (
            self.ok + sum(self.errors.values()) + self.timeouts + self.no_responders + self.failed
        )

    def add(self, row: list[str]) -> None:
        """One CSV row: timestamp ns, status, latency ns, bytes out, bytes in, error, body
        (base64), attack, seq, method, url, response headers (base64, HTTP/1 header block)."""
        sent_ns, status, latency_ns, error, body = (
            int(row[0]),
            int(row[1]),
            int(row[2]),
            row[5],
            row[6],
        )
        if status == 0 and error == NO_TARGETS:
            return
        self.first_ns = sent_ns if self.first_ns is None else min(self.first_ns, sent_ns)
        self.last_ns = max(self.last_ns, sent_ns + latency_ns)
        self.last_sent_ns = max(self.last_sent_ns, sent_ns)
        if status == 504 or (status == 0 and any(word in error for word in TIMED_OUT)):
            self.timeouts += 1
        elif status == 503:
            self.no_responders += 1
        elif status != 200:
            self.failed += 1
        else:
            self.histogram.record_value(max(LOWEST_US, latency_ns // 1000))
            reply = decode_reply(
                base64.b64decode(body), nats_headers(row[11] if len(row) > 11 else "")
            )
            if reply.ok:
                self.ok += 1
            else:
                code = str(reply.error_code)
                self.errors[code] = self.errors.get(code, 0) + 1


def nats_headers(encoded: str) -> dict[str, str]:
    """The reply's NATS headers, which the gateway sends back as `NatsH-<name>` HTTP headers."""
    if not encoded:
        return {}
    block = base64.b64decode(encoded).decode("latin-1")
    parsed = email.parser.HeaderParser().parsestr(block)
    return {
        name[len(HEADER_PREFIX) :]: value
        for name, value in parsed.items()
        if name.lower().startswith(HEADER_PREFIX.lower())
    }


def tally(rows: Iterable[list[str]]) -> Tally:
    counted = Tally()
    for row in rows:
        counted.add(row)
    return counted


def run_vegeta(target: ServiceAddress, plan: LoadPlan, *, binary: Path | None = None) -> LoadResult:
    """Run the plan through the gateway with vegeta; its CPU is the generator's."""
    if target.http_token is None:
        raise BenchError("vegeta drives the HTTP gateway: use it with --http")
    vegeta = binary or ensure_tool(VEGETA)
    with tempfile.TemporaryDirectory(prefix="bench-vegeta-") as scratch:
        results_file = Path(scratch) / "results.bin"
        children_before = _children_cpu_s()
        process = subprocess.Popen(
            [str(vegeta), *attack_arguments(plan, results_file)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:  # Ctrl-C or SIGTERM from here on: the attack ends with the command
            assert process.stdin is not None
            assert process.stderr is not None
            # A daemon: an interrupted run must not wait for a soak's targets to be fed.
            feeder = threading.Thread(
                target=_feed, args=(process.stdin, targets(target, plan)), daemon=True
            )
            feeder.start()  # fed as vegeta reads: a soak's targets are never all in memory
            stderr = process.stderr.read()
            process.wait()
        finally:
            _stopped(process)
        feeder.join()
        generator_cpu_s = _children_cpu_s() - children_before  # reaped: counted as our child's
        if process.returncode != 0:
            last = (stderr.decode(errors="replace").strip().splitlines() or ["no output"])[-1]
            raise BenchError(f"vegeta attack failed (exit {process.returncode}): {last}")
        counted = _encoded(vegeta, results_file)
    return load_result(plan, counted, generator_cpu_s=generator_cpu_s)


def _stopped(process: subprocess.Popen[bytes]) -> None:
    """vegeta gone: asked to stop (it reports what it sent), killed if it does not."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(STOP_WITHIN_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _feed(stdin: IO[bytes], lines: Iterable[bytes]) -> None:
    try:
        with stdin:
            for line in lines:
                stdin.write(line)
    except BrokenPipeError:  # vegeta stopped early; its exit status says why
        pass


def _encoded(vegeta: Path, results_file: Path) -> Tally:
    """The results, decoded by vegeta itself and counted as they stream past."""
    process = subprocess.Popen(
        [str(vegeta), "encode", "--to", "csv", str(results_file)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None
    assert process.stderr is not None
    with io.TextIOWrapper(process.stdout, encoding="utf-8", newline="") as text:
        counted = tally(csv.reader(text))
    stderr = process.stderr.read()
    if process.wait() != 0:
        raise BenchError(f"vegeta encode failed: {stderr.decode(errors='replace').strip()}")
    return counted


def load_result(plan: LoadPlan, counted: Tally, *, generator_cpu_s: float) -> LoadResult:
    first = counted.first_ns or 0
    return LoadResult(
        requests=counted.requests,
        concurrency=plan.concurrency,
        clients=1,
        rate=plan.rate,
        timeout_s=plan.timeout_s,
        duration_s=(counted.last_ns - first) / 1e9,
        histogram=counted.histogram,
        ok=counted.ok,
        errors=counted.errors,
        timeouts=counted.timeouts,
        no_responders=counted.no_responders,
        failed=counted.failed,
        generator_cpu_s=generator_cpu_s,
        send_s=(counted.last_sent_ns - first) / 1e9,
    )


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime
