"""After the README's cloud rehearsal (`cloud-up --api-url local`, then `cloud-down`) the local
stack is as healthy as before it: the deleted account leaves nothing the server keeps fetching."""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import commands
from tests.support.commands import invoke, nats_components, taken_port
from tests.support.gateway import HttpStack, cloud_stack

pytestmark = pytest.mark.integration

ACCOUNT = "HEALTH"
FETCH_FAILED = "Account fetch failed"
"""nats-server's log line for an account it looked up and could not get."""
REFETCH_AFTER_S = 1.0
"""nats-server fetches an expired (deleted) account again only this long after its last try."""
FETCH_WAIT_S = 1.9
"""How long a health check that looks up a deleted account waits for its fetch to time out
(docs/decisions.md): a /healthz that took half of it was no such wait. A cluster node's check
also asks every stream's group, and takes tenths of a second on a busy machine (0.16 s seen at
the median under a load of 10 on two cores), so a bound below that would time the machine."""


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[HttpStack]:
    with cloud_stack(tmp_path) as running:
        yield running


def nats_dirs(stack: HttpStack) -> list[Path]:
    """Each nats-server's folder: a single server's `nats/`, a cluster node's `cluster/<node>/`
    (devkit.stack.native.nats_workdir)."""
    root = Path(stack.env["STACK_DIR"])
    if commands.NATS_NODES == 1:
        return [root / "nats"]
    return [root / "cluster" / node for node in nats_components()]


def monitor_ports(stack: HttpStack) -> list[str]:
    """Each nats-server's monitor port variable: node 1's, then the cluster's other nodes'."""
    others = [f"STACK_NATS_{n}_MONITOR_PORT" for n in range(2, commands.NATS_NODES + 1)]
    return ["STACK_NATS_MONITOR_PORT", *others]


def leftovers(folders: set[Path]) -> dict[str, list[str]]:
    """What a JetStream folder of a deleted account still holds, as paths inside it.

    On the cluster the server's purge deletes the account's streams on every node but keeps
    its empty `streams` folder (nats-server 2.15.1): the server's business, not ours; what is
    ours is that nothing of the account's data is left, and that it costs the health check
    nothing (below)."""
    return {
        folder.name: [
            str(found.relative_to(folder))
            for found in sorted(folder.rglob("*"))
            if not (found.is_dir() and found == folder / "streams" and not any(found.iterdir()))
        ]
        for folder in folders
    }


def healthz_seconds(stack: HttpStack, monitor_port: str) -> float:
    url = f"http://127.0.0.1:{taken_port(stack.env, monitor_port)}/healthz"
    started = time.monotonic()
    answer = httpx.get(url, timeout=10)
    assert answer.status_code == 200, answer.text
    return time.monotonic() - started


def test_cloud_down_leaves_nats_healthy(stack: HttpStack) -> None:
    through = ("--account", ACCOUNT, "--api-url", "local")
    up = invoke(stack.env, "cloud-up", *through)
    assert up.returncode == 0, up.stdout + up.stderr
    down = invoke(stack.env, "cloud-down", *through)
    assert down.returncode == 0, down.stdout + down.stderr
    assert f"- removed account {ACCOUNT}" in down.stdout
    deleted_at = time.monotonic()

    # The single server's health check looks up every account with a JetStream folder.
    for nats_dir in nats_dirs(stack):
        held = {path.name.removesuffix(".jwt") for path in (nats_dir / "jwt").glob("*.jwt")}
        folders = set((nats_dir / "jetstream" / "jetstream").iterdir())
        orphans = {folder for folder in folders if folder.name not in held}
        if commands.NATS_NODES == 1:
            assert orphans == set(), f"JetStream folders of accounts it no longer holds: {orphans}"
        left = leftovers(orphans)
        assert all(found == [] for found in left.values()), f"{nats_dir.name} kept: {left}"

    status = invoke(stack.env, "status")
    assert status.returncode == 0, status.stdout + status.stderr
    for monitor_port in monitor_ports(stack):
        timings = [healthz_seconds(stack, monitor_port)]
        while time.monotonic() - deleted_at < 2 * REFETCH_AFTER_S or len(timings) < 3:
            timings.append(healthz_seconds(stack, monitor_port))
        typical = statistics.median(timings)  # one call slowed by a busy machine is not the fault
        assert typical < FETCH_WAIT_S / 2, (
            f"{monitor_port}: /healthz took {typical:.2f} s ({len(timings)} calls)"
        )
    for nats_dir in nats_dirs(stack):
        assert FETCH_FAILED not in (nats_dir / "nats.log").read_text(errors="replace"), nats_dir
