from __future__ import annotations

import os
from pathlib import Path

from service.health import Heartbeat, check_heartbeat, write_heartbeat


def test_fresh_heartbeat_of_a_live_process_is_healthy(tmp_path: Path) -> None:
    path = tmp_path / "h"
    write_heartbeat(path, Heartbeat(pid=os.getpid(), service_id="s", at=1000.0))
    assert check_heartbeat(path, now=1001.0, interval_s=2) is None


def test_stale_heartbeat_is_unhealthy(tmp_path: Path) -> None:
    path = tmp_path / "h"
    write_heartbeat(path, Heartbeat(pid=os.getpid(), service_id="s", at=1000.0))
    assert "no NATS round trip for 10.0 s" in (
        check_heartbeat(path, now=1010.0, interval_s=2) or ""
    )


def test_missing_or_broken_heartbeat_is_unhealthy(tmp_path: Path) -> None:
    assert "no heartbeat" in (check_heartbeat(tmp_path / "none", now=0, interval_s=2) or "")
    (tmp_path / "bad").write_text("{")
    assert "unreadable" in (check_heartbeat(tmp_path / "bad", now=0, interval_s=2) or "")


def test_dead_process_is_unhealthy(tmp_path: Path) -> None:
    path = tmp_path / "h"
    write_heartbeat(path, Heartbeat(pid=2**22 + 12345, service_id="s", at=1000.0))
    assert "gone" in (check_heartbeat(path, now=1000.5, interval_s=2) or "")


def test_a_replica_that_cannot_receive_is_alive_but_not_ready(tmp_path: Path) -> None:
    """Within one interval of a failed round trip: not serving, and why; liveness waits for
    the heartbeat to go stale (a pause of the server is not a reason to replace the task)."""
    path = tmp_path / "h"
    problem = "NATS did not answer a PING within 2 s"
    write_heartbeat(path, Heartbeat(pid=os.getpid(), service_id="s", at=1000.0, problem=problem))
    assert check_heartbeat(path, now=1001.0, interval_s=2) is None
    said = check_heartbeat(path, now=1001.0, interval_s=2, ready=True)
    assert said == f"the service cannot receive requests: {problem}"
    stale = check_heartbeat(path, now=1010.0, interval_s=2)
    assert stale == f"no NATS round trip for 10.0 s: {problem}"
