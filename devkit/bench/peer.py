"""`invoke bench --peer original`: the original Go service on the same stack, after this one,
under the same load and on the same table; and the original's own benchmark client.

The original is built by `../shared/tools/original-clients` (its notes beside it) once, into the
stack's directory. It joins the same queue group on the same subject, so this service's replicas
are stopped while it runs and started again after (a native stack: its replicas are processes).
It runs as the local `peer` user (devkit/auth/permissions.py): the request and event subjects
and a read of the `seed` key, with nats.go's default `_INBOX.` inbox, which no other user
shares. It seeds unless the `config` bucket holds the key `seed`, so the key is set for the
run (and removed after, when it was not there): the table stays as it was.
"""

from __future__ import annotations

import asyncio
import base64
import os
import re
import select
import signal
import subprocess
import tempfile
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from nats.js.errors import KeyNotFoundError

from devkit.bench.load import connect
from devkit.bench.plan import BenchError, ServiceAddress
from devkit.bench.stats import process_cpu_seconds
from devkit.project import ROOT
from devkit.stack.config import StackConfig
from devkit.stack.lifecycle import up
from devkit.stack.ownership import OWNER_VARIABLE
from devkit.stack.state import Component, StackState
from service import names
from service.operator_errors import OperatorError

ORIGINAL_CLIENTS = ROOT.parent / "shared" / "tools" / "original-clients"
"""The shared build script (needs Go and the Go module proxy; a minute the first time)."""
ORIGINAL_SEED_KEY = "seed"
"""The original's seed marker in the `config` bucket (ours are `seed.<table>`)."""
READY_LINE = "service ready"
READY_WITHIN_S = 60.0
STOP_WITHIN_S = 15.0
BUILD_WITHIN_S = 900
SUMMARY = re.compile(r"Total of (\d+) requests.*completed in ([0-9.hmsuµn]+?)\. Average")
"""The original benchmark's last line; Go prints the wall time as a Duration (`4.5s`)."""


class PeerError(OperatorError):
    """The peer cannot be built or run here: a machine's setup, named in one line."""

    exit_code = 2


@dataclass(frozen=True)
class OriginalBuild:
    service: Path
    bench: Path


def original_build(
    cache: Path, script: Path = ORIGINAL_CLIENTS, within_s: float = BUILD_WITHIN_S
) -> OriginalBuild:
    """The original's service and benchmark, built once into `cache`."""
    built = OriginalBuild(cache / "original-service", cache / "original-bench")
    if built.service.exists() and built.bench.exists():
        return built
    if not script.exists():
        raise PeerError(f"{script} is missing: --peer original builds the original with it")
    cache.mkdir(parents=True, exist_ok=True)
    try:
        done = subprocess.run(
            [str(script), str(cache)], capture_output=True, text=True, timeout=within_s
        )
    except subprocess.TimeoutExpired:
        raise PeerError(
            f"cannot build the original: {script.name} did not finish in {within_s:g} s"
        ) from None
    if done.returncode != 0:
        said = (done.stderr.strip() or done.stdout.strip() or "no output").splitlines()[-1]
        raise PeerError(f"cannot build the original (needs Go and the Go module proxy): {said}")
    return built


def original_environment(
    nats_url: str, creds: Path, table: str, dynamodb_endpoint: str, *, owner: str
) -> dict[str, str]:
    """What the original reads (its notes): base64 creds, the table, the emulator; and the
    stack's owner mark, so `invoke down` finds it if this command dies without stopping it."""
    return {
        OWNER_VARIABLE: owner,
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", ""),
        "NATS_URL": nats_url,
        "NATS_CREDENTIALS": base64.b64encode(creds.read_bytes()).decode(),
        "DDB_TABLE": table,
        "AWS_ENDPOINT_URL": dynamodb_endpoint,
        "AWS_REGION": names.DEFAULT_REGION,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
    }


@dataclass(frozen=True)
class RunningOriginal:
    pid: int

    def cpu_seconds(self) -> float:
        seconds = process_cpu_seconds(self.pid)
        if seconds is None:
            raise BenchError(f"cannot read the CPU time of the original service {self.pid}")
        return seconds


@contextmanager
def running_original(binary: Path, environment: dict[str, str]) -> Iterator[RunningOriginal]:
    """The original service, ready once it logged `service ready`; stopped with SIGINT (it
    ignores SIGTERM), then killed. Its log is read all along (a full pipe would stop it) and
    its last lines kept to say why it failed."""
    with tempfile.TemporaryDirectory(prefix="original-") as work:  # it writes its creds here
        os.chmod(work, 0o700)
        process = subprocess.Popen(
            [str(binary)],
            cwd=work,
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        assert process.stderr is not None
        log = OriginalLog()
        reader = threading.Thread(target=log.read, args=(process.stderr,), daemon=True)
        reader.start()
        try:
            if not log.ready.wait(READY_WITHIN_S) or not log.started:
                raise BenchError(f"the original service did not start: {log.last() or 'no output'}")
            yield RunningOriginal(process.pid)
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
                try:
                    process.wait(STOP_WITHIN_S)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            reader.join(STOP_WITHIN_S)
            process.stderr.close()


class OriginalLog:
    """The original's log lines as they come: `ready` set at `service ready` or at its end."""

    def __init__(self) -> None:
        self.ready = threading.Event()
        self.started = False
        """It logged `service ready` (not merely ended)."""
        self._tail: deque[str] = deque(maxlen=20)

    def read(self, stream: IO[bytes]) -> None:
        for raw in stream:
            line = raw.decode(errors="replace").strip()
            self._tail.append(line)
            if READY_LINE in line:
                self.started = True
                self.ready.set()
        self.ready.set()  # it ended: whoever waits reads why in the last line

    def last(self) -> str:
        return self._tail[-1] if self._tail else ""


@contextmanager
def seed_marker(admin: ServiceAddress) -> Iterator[None]:
    """The original's `seed` key present for the run, so it does not reseed our table."""
    added = asyncio.run(_put_seed_marker(admin))
    try:
        yield
    finally:
        if added:
            asyncio.run(_delete_seed_marker(admin))


async def _put_seed_marker(admin: ServiceAddress) -> bool:
    nc = await connect(admin, "customer-bench-peer-seed")
    try:
        bucket = await nc.jetstream().key_value(names.KV_BUCKET)
        try:
            await bucket.get(ORIGINAL_SEED_KEY)
            return False
        except KeyNotFoundError:
            await bucket.put(ORIGINAL_SEED_KEY, b"done")
            return True
    finally:
        await nc.close()


async def _delete_seed_marker(admin: ServiceAddress) -> None:
    nc = await connect(admin, "customer-bench-peer-seed")
    try:
        bucket = await nc.jetstream().key_value(names.KV_BUCKET)
        await bucket.purge(ORIGINAL_SEED_KEY)
    finally:
        await nc.close()


@dataclass(frozen=True)
class OwnBench:
    """What the original benchmark client said: its summary, or why it stopped."""

    requests: int | None
    seconds: float | None
    said: str

    @property
    def rps(self) -> float | None:
        return self.requests / self.seconds if self.requests and self.seconds else None


def own_bench_result(output: str) -> OwnBench:
    """Its summary line (Go's Duration: `4.5s`, `850ms`, `1m2.5s`), or its last line."""
    lines = [line.strip() for line in output.strip().splitlines() if line.strip()]
    last = lines[-1] if lines else "no output"
    found = next(filter(None, (SUMMARY.search(line) for line in reversed(lines))), None)
    if found is None:
        return OwnBench(None, None, last)
    return OwnBench(int(found.group(1)), go_duration_s(found.group(2)), last)


def go_duration_s(text: str) -> float | None:
    """Go's `time.Duration` text in seconds: `4.5s`, `850.2ms`, `1m2.5s`, `1h0m0s`."""
    units = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}
    parts = re.findall(r"([0-9.]+)(ms|us|µs|ns|h|m|s)", text)
    if not parts:
        return None
    return sum(float(number) * units[unit] for number, unit in parts)


def run_own_bench(binary: Path, nats_url: str, creds: Path, requests: int) -> OwnBench:
    """The original's own benchmark client: one connection, 1,000 in flight, 5 s timeout."""
    try:
        done = subprocess.run(
            [str(binary)],
            env={
                "PATH": os.environ.get("PATH", ""),
                "NATS_URL": nats_url,
                "BENCH_CREDS": str(creds),
                "BENCH_N": str(requests),
            },
            capture_output=True,
            text=True,
            timeout=max(60.0, requests / 50),
        )
    except subprocess.TimeoutExpired:
        return OwnBench(None, None, "it did not finish in time")
    return own_bench_result(done.stdout + done.stderr)


def replicas_stoppable(config: StackConfig) -> list[Component]:
    """This service's replicas, when they are processes the peer's run can stop."""
    replicas = StackState.load(config.state_path).replicas()
    if not replicas or any(replica.pid is None for replica in replicas):
        raise PeerError(
            "--peer original stops this service's replicas while the original runs: it needs a"
            " native stack (STACK_MODE=native)"
        )
    return replicas


@contextmanager
def replicas_stopped(config: StackConfig) -> Iterator[int]:
    """This service's replicas stopped (SIGTERM: they drain) for the peer's run, and the same
    count started again after, by `up`; yields the count."""
    replicas = replicas_stoppable(config)
    pids = [replica.pid for replica in replicas if replica.running()]
    try:
        for pid in pids:
            _stop(pid)
        yield len(replicas)
    finally:
        up(config, replicas=len(replicas))


def _stop(pid: int | None) -> None:
    """SIGTERM, and wait for the exit itself (a pidfd becomes readable), then SIGKILL."""
    if pid is None:
        return
    try:
        handle = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        os.kill(pid, signal.SIGTERM)
        exited, _, _ = select.select([handle], [], [], STOP_WITHIN_S)
        if not exited:
            os.kill(pid, signal.SIGKILL)
            select.select([handle], [], [], STOP_WITHIN_S)
    except ProcessLookupError:
        pass
    finally:
        os.close(handle)
