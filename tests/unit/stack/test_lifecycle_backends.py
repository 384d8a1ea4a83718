"""The lifecycle's promises, checked against a fake backend: they hold for any backend because
`lifecycle.py` knows none (the native one is checked through `invoke` in the integration tests)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from devkit.flags import FlagError
from devkit.stack import lifecycle
from devkit.stack.backend import Change, Stopped
from devkit.stack.config import StackConfig, StackError
from devkit.stack.report import ComponentStatus, JobStatus
from devkit.stack.stack import Stack, Wanted, record
from devkit.stack.state import DOCKER, NATIVE, Component

EXECUTABLE = Path(f"/proc/{os.getpid()}/cmdline").read_bytes().split(b"\0")[0].decode()


class FakeBackend:
    """Runs every component as this very process; can be told to stop half-way."""

    def __init__(self, *, interrupt_after: int | None = None) -> None:
        self.interrupt_after = interrupt_after
        self.starts = 0
        self.stops = 0

    def start(self, stack: Stack, wanted: Wanted, change: Change, *, wait: bool) -> None:
        self.starts += 1
        stack.state.recorded = record(stack.config)
        for name in sorted(wanted.names - set(stack.state.components)):
            if self.interrupt_after is not None and len(change.started) == self.interrupt_after:
                raise KeyboardInterrupt
            stack.state.components[name] = Component(
                name=name, pid=os.getpid(), marker=EXECUTABLE, log="-"
            )
            stack.save()
            change.started.append(name)
        for name in set(stack.state.components) - wanted.names:
            del stack.state.components[name]
            change.stopped.append(name)

    def stop(self, stack: Stack, *, wipe: bool) -> Stopped:
        self.stops += 1
        return Stopped(sorted(stack.state.components))

    def components(self, stack: Stack) -> tuple[list[ComponentStatus], list[JobStatus]]:
        return [
            ComponentStatus(
                name=c.name, pid=c.pid, address=None, running=True, healthy=True, log=c.log
            )
            for c in stack.state.components.values()
        ], []

    def show_logs(self, stack: Stack, component: str | None, lines: int, *, follow: bool) -> None:
        raise AssertionError("not asked for")


@pytest.fixture
def config(tmp_path: Path) -> StackConfig:
    return StackConfig(root=tmp_path / "stack", mode="native")


def backends(fake: FakeBackend) -> dict[str, FakeBackend]:
    return {NATIVE: fake, DOCKER: fake}


def test_up_converges_remembers_the_count_and_changes_nothing_twice(config: StackConfig) -> None:
    fake = FakeBackend()
    first = lifecycle.up(config, replicas=2, backends=backends(fake))  # type: ignore[arg-type]
    assert set(first.started) == {"nats", "dynamodb", "gateway", "controlplane"} | {
        "balance-1",
        "balance-2",
    }
    assert [c.name for c in first.status.components][-2:] == ["balance-1", "balance-2"]
    again = lifecycle.up(config, backends=backends(fake))  # type: ignore[arg-type]
    assert again.already_running
    assert again.replicas == 2  # a plain `up` keeps the count


def test_an_interrupted_up_says_what_it_started_and_keeps_the_count_it_found(
    config: StackConfig,
) -> None:
    lifecycle.up(config, replicas=1, backends=backends(FakeBackend()))  # type: ignore[arg-type]
    halted = FakeBackend(interrupt_after=1)
    with pytest.raises(lifecycle.Interrupted) as interrupted:
        lifecycle.up(config, replicas=3, backends=backends(halted))  # type: ignore[arg-type]
    assert str(interrupted.value).startswith("interrupted: started balance-2;")
    assert "`invoke down`" in str(interrupted.value)
    assert interrupted.value.exit_code == 130
    with Stack.opened(config) as stack:
        assert stack.state.replica_count == 1
        assert "balance-2" in stack.state.components  # recorded, so `down` stops it


def test_an_interrupt_before_anything_started_says_so(config: StackConfig) -> None:
    with pytest.raises(lifecycle.Interrupted) as interrupted:
        lifecycle.up(config, backends=backends(FakeBackend(interrupt_after=0)))  # type: ignore[arg-type]
    assert str(interrupted.value) == "interrupted before anything started; the stack is as it was"


def test_more_replicas_than_the_machine_can_run_are_refused_and_nothing_saved(
    config: StackConfig,
) -> None:
    fake = FakeBackend()
    with pytest.raises(FlagError) as refused:
        lifecycle.up(config, replicas=100_000, backends=backends(fake))  # type: ignore[arg-type]
    assert refused.value.exit_code == 2
    assert "more than this machine can run" in str(refused.value)
    assert fake.starts == 0
    assert not config.state_path.exists()


def test_a_configuration_other_than_the_running_one_is_reported(config: StackConfig) -> None:
    fake = FakeBackend()
    lifecycle.up(config, backends=backends(fake))  # type: ignore[arg-type]
    moved = StackConfig(root=config.root, mode="native", nats_port=config.nats_port + 1)
    with pytest.raises(StackError) as refused:
        lifecycle.up(moved, backends=backends(fake))  # type: ignore[arg-type]
    assert f"STACK_NATS_PORT={config.nats_port + 1}" in str(refused.value)
    assert f"the running stack has {config.nats_port}" in str(refused.value)
    assert "invoke down" in str(refused.value)
    assert fake.starts == 1


def test_down_stops_through_the_backend_and_forgets_the_state(config: StackConfig) -> None:
    fake = FakeBackend()
    lifecycle.up(config, replicas=1, backends=backends(fake))  # type: ignore[arg-type]
    result = lifecycle.down(config, backends=backends(fake))  # type: ignore[arg-type]
    assert fake.stops == 1
    assert "balance-1" in result.stopped
    assert not config.state_path.exists()
    assert not lifecycle.status(config, backends=backends(fake)).running  # type: ignore[arg-type]


def test_up_nodes_on_a_running_stack_of_another_count_names_the_flag(
    config: StackConfig,
) -> None:
    """`up --nodes 3` (a model_copy, as the task does) on a running one-server stack: refused
    with a message that names the flag the user gave, not only a variable they never set."""
    fake = FakeBackend()
    lifecycle.up(config, backends=backends(fake))  # type: ignore[arg-type]
    flagged = config.model_copy(update={"nats_nodes": 3})
    with pytest.raises(StackError) as refused:
        lifecycle.up(flagged, backends=backends(fake))  # type: ignore[arg-type]
    message = str(refused.value)
    assert "--nodes/STACK_NATS_NODES=3 (the running stack has 1)" in message
    assert "leave out the flag or variable" in message
    assert "invoke down" in message
    assert fake.starts == 1
