"""Where a cold `invoke up` spends its time (issue #27), measured the same way each run.

    .venv/bin/python docs/cold_start.py [--runs 3]

Each run starts a native one-server stack in a fresh STACK_DIR, every port chosen by the
servers (as the tests do), so no namespace is needed, and stops it after. Printed per run:

- `invoke` (the whole command, as a developer runs it): wall time and CPU of it and its children
  until `up` returns (a real balance request answered);
- the phases of `up` itself, measured inside one process (each start's wall offset from the
  start of `lifecycle.up`, so overlapping starts show as overlapping intervals);
- the floors: `nats-server` alone until its /healthz answers, moto alone until it answers, the
  replica's imports (`python -c "import service.app"`), and `import tasks` / `invoke --list`.

Nothing here is part of the product; it only times what the product does.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path.cwd()
"""Run from the project root: its `invoke` and its tasks are the ones timed."""
VENV_BIN = Path(sys.executable).parent
PORTS = (
    "STACK_NATS_PORT",
    "STACK_NATS_MONITOR_PORT",
    "STACK_DYNAMODB_PORT",
    "STACK_GATEWAY_PORT",
    "STACK_CONTROLPLANE_PORT",
)


def environment(stack_dir: Path) -> dict[str, str]:
    own = ("NATS_", "AWS_", "DDB_", "STACK_", "CLOUD_", "SYNADIA_")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(own)}
    return {
        **clean,
        "STACK_DIR": str(stack_dir),
        "STACK_MODE": "native",
        "STACK_NATS_NODES": "1",
        **dict.fromkeys(PORTS, "0"),
    }


def timed(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system, the process and its waited children)."""
    started = time.perf_counter()
    process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(argv)} failed")
    return wall, usage.ru_utime + usage.ru_stime


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def whole_up(env: dict[str, str]) -> tuple[float, float]:
    """`invoke up` as typed: wall until it returns; CPU of invoke itself only (the servers it
    starts outlive it, their CPU is theirs)."""
    wall, cpu = timed([str(VENV_BIN / "invoke"), "up"], env)
    subprocess.run(
        [str(VENV_BIN / "invoke"), "down"], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL
    )
    return wall, cpu


Timeline = list[tuple[str, float, float]]


@contextmanager
def wrapped(timeline: Timeline, t0: list[float]) -> Iterator[None]:
    """Time the steps of the native start by replacing them for the length of one `up`."""
    from devkit.stack import native, twins

    def either(module: Any, *names: str) -> str:
        """Before issue #27 a start waited; after it, a launch returns its wait."""
        return next(name for name in names if hasattr(module, name))

    targets: list[tuple[Any, str, str]] = [
        (native, either(native, "_start_nats", "_launch_nats"), "nats-server ready"),
        (native, either(native, "_start_dynamodb", "_launch_dynamodb"), "moto ready"),
        (twins, either(twins, "_start_twin", "_launch_twin"), "twin ready"),
        (native, "bootstrap", "bootstrap (table, bucket, stream)"),
        (native, "_start_replica", "replica launched"),
        (native, "wait_until_answering", "first answer"),
        (native, "wait_until_healthy", "replica heartbeat"),
    ]
    saved = [(module, name, getattr(module, name)) for module, name, _ in targets]

    def timing(label: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            begun = time.perf_counter() - t0[0]
            result = function(*args, **kwargs)
            if hasattr(result, "__await__"):
                return _awaited(label, begun, result)
            name = label if label != "twin ready" else f"{args[1]} ready"
            if callable(result):  # launched: ready when its wait returns

                def waited() -> Any:
                    value = result()
                    timeline.append((name, begun, time.perf_counter() - t0[0]))
                    return value

                return waited
            timeline.append((name, begun, time.perf_counter() - t0[0]))
            return result

        async def _awaited(label: str, begun: float, awaitable: Any) -> Any:
            value = await awaitable
            timeline.append((label, begun, time.perf_counter() - t0[0]))
            return value

        return call

    for (module, name, label), (_, _, original) in zip(targets, saved, strict=True):
        setattr(module, name, timing(label, original))
    try:
        yield
    finally:
        for module, name, original in saved:
            setattr(module, name, original)


def phases(env: dict[str, str]) -> tuple[Timeline, float, float]:
    """One `lifecycle.up` in this process, its steps timed; then down."""
    os.environ.update(env)
    from devkit.stack import lifecycle
    from devkit.stack.config import load_stack_config

    config = load_stack_config()
    timeline: Timeline = []
    t0 = [time.perf_counter()]
    cpu0 = time.process_time()
    with wrapped(timeline, t0):
        lifecycle.up(config, mode="native")
    total = time.perf_counter() - t0[0]
    cpu = time.process_time() - cpu0
    lifecycle.down(config)
    return timeline, total, cpu


def floors() -> dict[str, tuple[float, float]]:
    """Each part alone, started and awaited the way `up` does (wall, CPU of the process)."""
    measured: dict[str, tuple[float, float]] = {}
    python = str(VENV_BIN / "python")
    measured["python -c pass"] = timed([python, "-c", "pass"])
    measured["import service.app (replica)"] = timed([python, "-c", "import service.app"])
    measured["import moto server"] = timed([python, "-c", "import devkit.stack.moto_emulator"])
    measured["import devkit.gateway"] = timed([python, "-c", "import devkit.gateway.__main__"])
    measured["import tasks"] = timed([python, "-c", "import tasks"])
    measured["invoke --list"] = timed([str(VENV_BIN / "invoke"), "--list"])
    with tempfile.TemporaryDirectory() as scratch:
        from devkit.stack.servers import start_moto, start_nats

        started = time.perf_counter()
        cpu0 = children_cpu()
        nats = start_nats(workdir=Path(scratch) / "nats")
        measured["nats-server to /healthz"] = (time.perf_counter() - started, float("nan"))
        nats.process.terminate()
        nats.process.wait()
        _ = cpu0
        started = time.perf_counter()
        moto = start_moto(workdir=Path(scratch))
        measured["moto to answering"] = (time.perf_counter() - started, float("nan"))
        moto.process.terminate()
        moto.process.wait()
    return measured


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f}, {os.cpu_count()} cores")
    walls: list[float] = []
    for run in range(1, args.runs + 1):
        with tempfile.TemporaryDirectory() as scratch:
            wall, cpu = whole_up(environment(Path(scratch) / "whole"))
            walls.append(wall)
            print(f"run {run}: invoke up {wall:.2f} s wall, {cpu:.2f} s CPU (invoke)")
            timeline, total, in_cpu = phases(environment(Path(scratch) / "phases"))
            for label, begun, ended in sorted(timeline, key=lambda entry: entry[1]):
                print(f"    {label:36} {begun:6.2f} -> {ended:6.2f}  ({ended - begun:.2f} s)")
            print(
                f"    {'lifecycle.up total':36} {total:6.2f} s, {in_cpu:.2f} s CPU (this process)"
            )
    print(f"invoke up median {statistics.median(walls):.2f} s over {len(walls)} runs")
    print("floors (wall s, CPU s):")
    for label, (wall, cpu) in floors().items():
        print(f"    {label:36} {wall:.2f}  {cpu:.2f}")
    print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
