"""`invoke bench`'s flags, checked all together before anything connects or starts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from devkit import flags
from devkit.bench.plan import LoadPlan, parse_ids

Generator = Literal["python", "vegeta"]

BENCH_HELP = {
    "requests": "requests to send (default 1000)",
    "concurrency": "most requests in flight (default 1000)",
    "timeout": "seconds each request may take (default 5)",
    "ids": "customer ids to cycle through: 1..1000, a,b,c or a mix (default 1..1000)",
    "clients": "load-generator processes, each with its own connection (default 1)",
    "rate": "open loop: requests per second (latency from the scheduled send time)",
    "duration": "seconds to send for (with --rate, instead of a count of requests): a soak",
    "warmup": "requests sent and not counted before the run (default 0)",
    "context": "aim at a NATS CLI context (e.g. cloud-client) instead of the local stack",
    "creds": "with --server: a .creds file",
    "server": "a NATS URL to aim at instead of the local stack (with --creds)",
    "json": "also write the result as JSON to this path",
    "baseline": "also measure raw GetItem, BatchGetItem and NATS echo capacity (local stack)",
    "replicas": "comma-separated replica counts (e.g. 1,3): restart the local stack for each",
    "http": "send the requests through the local HTTP gateway (as Synadia Cloud's HTTP callers)",
    "generator": "with --http: vegeta (the Go load generator, the default) or python"
    " (the Python one, with --clients processes)",
    "peer": "original: after this service's run, run the original Go service (built from"
    " ../shared) on the same stack under the same load, and print the ratio",
    "max_failures": "exit 1 when errors, timeouts and other failures exceed this many, or"
    " this percentage of the requests with a % (default 0)",
}


@dataclass(frozen=True)
class BenchOptions:
    plan: LoadPlan
    context: str
    server: str
    creds: Path | None
    json_path: Path | None
    baseline: bool
    replica_counts: list[int]
    """Empty: bench the stack as it runs."""
    max_failures: int
    http: bool = False
    generator: Generator = "python"
    """Who sends the requests: the Python processes, or vegeta (HTTP only)."""
    peer: str = ""
    """"original": run the original service after this one, on the same stack."""

    @property
    def local(self) -> bool:
        return not self.context and not self.server

    @classmethod
    def parse(
        cls,
        *,
        requests: str,
        concurrency: str,
        timeout: str,
        ids: str,
        clients: str,
        rate: str,
        warmup: str,
        context: str,
        creds: str,
        server: str,
        json_: str,
        baseline: bool,
        replicas: str,
        max_failures: str,
        http: bool = False,
        duration: str = "",
        generator: str = "",
        peer: str = "",
    ) -> BenchOptions:
        per_second = flags.optional_positive("--rate", rate, unit="requests per second")
        count = request_count(requests, duration, per_second)
        plan = LoadPlan(
            requests=count,
            concurrency=flags.whole_number("--concurrency", concurrency, minimum=1),
            timeout_s=flags.positive_number("--timeout", timeout, unit="seconds"),
            ids=parse_ids(ids),
            clients=flags.whole_number("--clients", clients, minimum=1, maximum=64),
            rate=per_second,
            warmup=flags.whole_number("--warmup", warmup, minimum=0),
        )
        if context and (server or creds):
            raise flags.FlagError("--context names the server and creds: not with --server/--creds")
        if creds and not server:
            raise flags.FlagError("--creds goes with --server URL")
        remote = bool(context or server)
        if baseline and remote:
            raise flags.FlagError(
                "--baseline measures the local stack's DynamoDB and NATS; it cannot describe a"
                " remote target (leave out --context/--server)"
            )
        if http and remote:
            raise flags.FlagError(
                "--http goes through the local stack's gateway; not with a remote target"
            )
        counts = flags.replica_counts("--replicas", replicas) if replicas else []
        if counts and remote:
            raise flags.FlagError("--replicas restarts the local stack; not with a remote target")
        return cls(
            plan=plan,
            context=context,
            server=server,
            creds=Path(creds) if creds else None,
            json_path=json_output(json_),
            baseline=baseline,
            replica_counts=counts,
            max_failures=failure_limit(max_failures, count),
            http=http,
            generator=load_generator(generator, http=http, clients=plan.clients),
            peer=peer_name(peer, remote=remote, replica_counts=counts),
        )


GENERATORS: tuple[Generator, ...] = ("vegeta", "python")


def load_generator(text: str, *, http: bool, clients: int) -> Generator:
    """vegeta for the HTTP path unless told otherwise; NATS requests only come from Python."""
    name = text.strip().lower()
    if not name:
        return "vegeta" if http and clients == 1 else "python"
    if name not in GENERATORS:
        raise flags.FlagError(f"--generator takes vegeta or python, not {text!r}")
    if name == "vegeta" and not http:
        raise flags.FlagError("--generator vegeta sends HTTP: give --http too (NATS is python's)")
    if name == "vegeta" and clients != 1:
        raise flags.FlagError(
            "--clients counts Python generator processes; vegeta uses every core in one:"
            " leave --clients out, or use --generator python"
        )
    return "vegeta" if name == "vegeta" else "python"


PEERS = ("original",)


def peer_name(text: str, *, remote: bool, replica_counts: list[int]) -> str:
    """--peer original: the only peer; it runs on the local stack, after one run."""
    name = text.strip().lower()
    if not name:
        return ""
    if name not in PEERS:
        raise flags.FlagError(f"--peer takes original, not {text!r}")
    if remote:
        raise flags.FlagError(
            "--peer runs the original on the local stack; not with a remote target"
        )
    if replica_counts:
        raise flags.FlagError("--peer compares one run with the original's: not with --replicas")
    return name


def request_count(requests: str, duration: str, rate: float | None) -> int:
    """--requests N (default 1000), or --duration S with --rate R: R x S requests."""
    if not duration:
        return flags.whole_number("--requests", requests or "1000", minimum=1)
    seconds = flags.positive_number("--duration", duration, unit="seconds")
    if rate is None:
        raise flags.FlagError("--duration runs an open loop for that long: give --rate too")
    if requests:
        raise flags.FlagError("--duration and --requests both say how much to send: give one")
    return max(1, round(rate * seconds))


def json_output(text: str) -> Path | None:
    """Where --json writes: a file in a directory that exists (none is ever created)."""
    if not text:
        return None
    if text == "-":
        raise flags.FlagError("--json takes a file to write; the report itself is on stdout")
    path = Path(text).expanduser()
    if not path.parent.is_dir():
        raise flags.FlagError(f"--json {text}: the directory {path.parent} does not exist")
    if path.is_dir():
        raise flags.FlagError(f"--json {text} is a directory; name a file in it")
    return path


def failure_limit(text: str, requests: int) -> int:
    """`--max-failures 10` or `--max-failures 0.5%` (of the requests), as a count."""
    if text.strip().endswith("%"):
        share = flags.positive_number("--max-failures", text.strip()[:-1] or "x", unit="percent")
        if share > 100:
            raise flags.FlagError(
                f"--max-failures takes a percentage up to 100%, not {text.strip()}"
            )
        return int(requests * share / 100)
    try:
        return flags.whole_number("--max-failures", text, minimum=0)
    except flags.FlagError:
        if text.strip().lstrip("-").isdigit():
            raise  # a number out of range: that message says so
        raise flags.FlagError(
            f"--max-failures takes a whole number or a percentage such as 0.5%, not {text!r}"
        ) from None
