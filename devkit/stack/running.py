"""Which stack a task talks to: the one `invoke up` started and recorded, found from the
repository's state file whatever the current directory, with the ports it really uses."""

from __future__ import annotations

from devkit.auth.security import ensure_gateway_tokens, gateway_tokens_path
from devkit.flags import FlagError
from devkit.stack.config import StackConfig, StackError, load_stack_config
from devkit.stack.stack import recorded_config
from devkit.stack.state import StackState


def current_config(config: StackConfig | None = None) -> StackConfig:
    """The running stack's configuration; the environment's when none runs."""
    config = config or load_stack_config()
    return recorded_config(config, StackState.load(config.state_path))


def running_config() -> StackConfig:
    """For tasks that need a running stack: say how to start one when there is none."""
    config = load_stack_config()
    if not StackState.load(config.state_path).active:
        raise StackError(
            f"the local stack is not running (in {config.root}); start it with: invoke up"
        )
    return current_config(config)


def gateway_token(config: StackConfig, user: str) -> str:
    """The local gateway's token for `user`; the stack must have been started once."""
    path = gateway_tokens_path(config.root)
    if not path.exists():
        raise StackError(f"no gateway tokens in {config.root} yet: start the stack with invoke up")
    tokens = ensure_gateway_tokens(config.root)
    if user not in tokens:
        raise FlagError(
            f"--user {user!r} is no NATS user of the stack; the users are {', '.join(tokens)}"
        )
    return tokens[user]
