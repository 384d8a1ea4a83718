"""The docker backend: nats, moto and the replicas as Compose services (`compose.py`), the
twins as processes on this machine as in native mode."""

from __future__ import annotations

from pathlib import Path

from devkit.auth.security import ensure_security
from devkit.stack import compose
from devkit.stack.backend import Change, Stopped
from devkit.stack.config import StackConfig
from devkit.stack.hosted import start_all, stop_components
from devkit.stack.processes import ensure_free
from devkit.stack.readiness import wait_until_answering
from devkit.stack.report import ComponentStatus, JobStatus
from devkit.stack.servers import CHOSEN_BY_SERVER
from devkit.stack.stack import Stack, Wanted
from devkit.stack.state import DOCKER, HOST_TWINS, StackState
from devkit.stack.twins import planned_twins

PUBLISHED_PORTS = ("nats_port", "dynamodb_port", "nats_2_port", "nats_3_port")
"""The ports Compose publishes on the host (the twins run on the host, as in native mode); the
last two only on the cluster."""


class DockerBackend:
    def start(self, stack: Stack, wanted: Wanted, change: Change, *, wait: bool) -> None:
        config, state = stack.config, stack.state
        if not state.active:  # a running Compose stack holds these ports itself
            for port, user in (
                *((node.port, node.name) for node in config.nats_nodes_list),
                (config.dynamodb_port, "DynamoDB"),
                (config.gateway_port, "HTTP gateway"),
                (config.controlplane_port, "control-plane twin"),
            ):
                if port != CHOSEN_BY_SERVER:
                    ensure_free(port, user)
        material = ensure_security(config.root, account=config.account, clustered=config.clustered)
        environment = compose.compose_environment(published(stack), replicas=wanted.replicas)
        if state.compose_env is not None and compose.same_inputs(
            Path(state.compose_env), environment
        ):
            healthy = {c.name for c in self.components(stack)[0] if c.healthy}
            if healthy == wanted.names:
                return
        env_file = compose.write_inputs(config, material, environment)
        project = compose.ComposeProject(
            state.compose_project or config.project, env_file, clustered=config.clustered
        )
        # Saved before Compose runs: a run that fails half-way leaves a stack `down` can remove.
        stack.state = StackState(
            mode=DOCKER,
            compose_env=str(env_file),
            compose_project=project.name,
            replica_count=state.replica_count,
            components={k: v for k, v in state.components.items() if k in HOST_TWINS},
        )
        stack.save()
        project.run("up", "--detach", "--build", "--wait")
        change.started.append(f"docker compose ({wanted.replicas} replicas)")
        nats_ports = {
            node.port_fields[0]: project.published(node.name, compose.CONTAINER_NATS_PORT)
            for node in config.nats_nodes_list
        }
        stack.runs_on(
            {
                **nats_ports,
                "dynamodb_port": project.published("dynamodb", compose.CONTAINER_DYNAMODB_PORT),
            }
        )
        start_all(stack, planned_twins(stack), change)
        if wait:
            stack.run(wait_until_answering(stack.config, stack.state))

    def stop(self, stack: Stack, *, wipe: bool) -> Stopped:
        """`compose down`; when Docker cannot run it, no container of ours can be running
        either (the state is forgotten); `wipe` goes on whatever Docker says."""
        result = Stopped()
        project = compose.project_of(stack.state)
        if project is not None:
            problem = compose.docker_problem()
            if problem is not None:
                result.warnings.append(
                    f"{problem}: no container of the stack can be running; forgot it"
                )
            else:
                try:
                    project.run("down", *(["--volumes"] if wipe else []))
                    result.stopped.append("docker compose stack")
                    if wipe:
                        project.remove_volumes()
                except compose.ComposeError as error:
                    if not wipe:
                        raise
                    result.warnings.append(f"{error}; deleting the local state anyway (--wipe)")
        twins = stack.state.components
        result.stopped += stop_components(twins[n] for n in reversed(HOST_TWINS) if n in twins)
        return result

    def components(self, stack: Stack) -> tuple[list[ComponentStatus], list[JobStatus]]:
        project = compose.project_of(stack.state)
        components, jobs = project.components(stack.config) if project else ([], [])
        twins = [ComponentStatus.of(c) for c in stack.state.components.values()]
        return components + twins, jobs

    def show_logs(self, stack: Stack, component: str | None, lines: int, *, follow: bool) -> None:
        project = compose.project_of(stack.state)
        if project is not None:
            project.show_logs(component, lines, follow=follow)


def published(stack: Stack) -> StackConfig:
    """The configuration Compose is given: the running one, but a port asked as 0 stays 0 on
    every `up` (any port), and so does one the running stack was given as 0 (a task that
    works on the running stack, such as `bench --replicas`, asks with the ports it took), so a
    second `up` gives Compose the same inputs."""
    running = stack.state.compose_env
    given_any = compose.chosen_by_server(Path(running) if running is not None else None)
    chosen = {
        name: CHOSEN_BY_SERVER
        for name in PUBLISHED_PORTS
        if getattr(stack.asked, name) == CHOSEN_BY_SERVER or name in given_any
    }
    return stack.config.model_copy(update=chosen)
