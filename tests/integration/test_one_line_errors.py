"""Every task's failures a person causes are one `error:` line and exit 2, never a traceback: a Go
tool that cannot be built (no Go module proxy, as offline), a bad flag value, a bad `STACK_*`
variable. Through the real `invoke`; tests/integration/test_flags.py holds the first cases."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from tests.support.commands import clean_environment, invoke, stack_environment

pytestmark = [
    pytest.mark.integration,
    pytest.mark.native_pass("the one-line errors are proven in the native pass"),
]
"""Every case fails before any stack starts, so the container pass would only repeat it (CI time)."""


GO_TOOL_TASKS = [
    ("nats-cli",),
    ("test-chaos", "-k", "nothing"),
    ("test-integration",),
    ("test", "--no-lint", "-k", "nothing"),
]
"""Every task that builds a Go tool (devkit/gotools.py): the NATS CLI, Toxiproxy."""


def bare_interpreter(root: Path) -> Path:
    """This interpreter with the same packages, in a folder of its own: the Go tools the project's
    `.venv/bin` already holds are not beside it, so a task must build them."""
    base = Path(sys.prefix)
    if not (base / "pyvenv.cfg").exists():
        pytest.fail(
            "run the tests from the project's virtual environment (pip install -e '.[dev]')"
        )
    venv = root / "venv"
    (venv / "bin").mkdir(parents=True)
    shutil.copy(base / "pyvenv.cfg", venv / "pyvenv.cfg")
    (venv / "bin" / "python").symlink_to(Path(sys.executable).resolve())
    packages = Path(
        next(p for p in sys.path if p.startswith(str(base)) and p.endswith("site-packages"))
    )
    site = venv / packages.relative_to(base)
    site.parent.mkdir(parents=True)
    site.symlink_to(packages)
    return venv / "bin" / "python"


def path_without_go_tools(python: Path, *, go: bool) -> str:
    """PATH with the bare interpreter first, and no folder holding a tool a task would build."""
    kept = [str(python.parent)]
    for folder in os.environ["PATH"].split(os.pathsep):
        if not folder or Path(folder) == Path(sys.executable).parent:
            continue
        if any((Path(folder) / tool).exists() for tool in ("nats", "toxiproxy-server")):
            continue
        if not go and (Path(folder) / "go").exists():
            continue
        kept.append(folder)
    return os.pathsep.join(kept)


def offline_environment(tmp_path: Path, python: Path, *, go: bool = True) -> dict[str, str]:
    """No module proxy (nothing listens on port 9), and empty module and build caches."""
    environment = {k: v for k, v in clean_environment().items() if k != "VIRTUAL_ENV"}
    return {
        **environment,
        "PATH": path_without_go_tools(python, go=go),
        "GOPROXY": "http://127.0.0.1:9",
        "GOFLAGS": "-mod=mod",
        "GOPATH": str(tmp_path / "gopath"),
        "GOMODCACHE": str(tmp_path / "gopath" / "pkg" / "mod"),
        "GOCACHE": str(tmp_path / "gocache"),
        "STACK_DIR": str(tmp_path / "stack"),
    }


def run_with(python: Path, env: dict[str, str], *args: str) -> tuple[int, str, str]:
    ran = invoke(env, *args, python=python)
    return ran.returncode, ran.stdout, ran.stderr


def one_usage_error(code: int, out: str, err: str, message: str) -> None:
    """Exit 2, and stderr is one `error:` line holding `message`."""
    assert code == 2, out + err
    assert err.startswith("error: "), err
    assert err.count("\n") == 1, err
    assert message in err
    assert "Traceback" not in out + err


@pytest.fixture(scope="module")
def python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("go") is None:
        pytest.fail("Go is part of this project's machine (it builds the NATS CLI)")
    return bare_interpreter(tmp_path_factory.mktemp("bare"))


@pytest.mark.parametrize("args", GO_TOOL_TASKS, ids=[a[0] for a in GO_TOOL_TASKS])
def test_no_go_module_proxy_is_one_line_and_exit_2(
    python: Path, tmp_path: Path, args: tuple[str, ...]
) -> None:
    code, out, err = run_with(python, offline_environment(tmp_path, python), *args)
    one_usage_error(code, out, err, "`go install` needs the Go module proxy")
    assert not (python.parent / "nats").exists()
    assert not (python.parent / "toxiproxy-server").exists()


@pytest.mark.parametrize("args", GO_TOOL_TASKS, ids=[a[0] for a in GO_TOOL_TASKS])
def test_no_go_at_all_is_one_line_and_exit_2(
    python: Path, tmp_path: Path, args: tuple[str, ...]
) -> None:
    code, out, err = run_with(python, offline_environment(tmp_path, python, go=False), *args)
    one_usage_error(code, out, err, "Go is not on PATH")


BAD_VALUES = [
    (("up", "--replicas", "1.5"), "--replicas takes a whole number, not '1.5'"),
    (("up", "--replicas", "-1"), "--replicas must be 1 or more, not -1"),
    (("req", "678", "--timeout", "inf"), "--timeout must be a number of seconds greater than 0"),
    (("req", "678", "-t", "nan"), "--timeout must be a number of seconds greater than 0"),
    (("req", "678", "-t", "0"), "--timeout must be a number of seconds greater than 0, not 0"),
    (("logs", "--lines", "abc"), "--lines takes a whole number, not 'abc'"),
    (("events", "--last", "-1"), "--last must be 0 or more, not -1"),
    (("seed", "--rows", "abc"), "--rows takes a whole number, not 'abc'"),
    (("seed", "--rows", "-5"), "--rows must be 1 or more, not -5"),
    (("bench", "-c", "0"), "--concurrency must be 1 or more, not 0"),
    (("bench", "--concurrency", "abc"), "--concurrency takes a whole number, not 'abc'"),
    (("bench", "--clients", "65"), "--clients must be from 1 to 64, not 65"),
    (("bench", "--warmup", "x"), "--warmup takes a whole number, not 'x'"),
    (("bench", "--timeout", "inf"), "--timeout must be a number of seconds greater than 0"),
    (("bench", "--ids", ""), "--ids names no customer"),
    (("bench", "--replicas", "0"), "--replicas must be 1 or more, not 0"),
    (("bench", "--rate", "5", "--duration", "abc"), "--duration takes a number of seconds"),
    (("bench", "--max-failures", "-1"), "--max-failures must be 0 or more, not -1"),
    (("deploy", "--with", "bogus", "--creds", "x"), "--with takes copilot or cdk, not 'bogus'"),
    (
        ("deploy", "--with", "cdk", "--existing-table", "bad name!", "--creds", "x"),
        "--existing-table 'bad name!' is not a DynamoDB table name",
    ),
    (("destroy", "--with", "bogus"), "--with takes copilot or cdk, not 'bogus'"),
    (("cp-list", "--token-file", "/nonexistent/token"), "the token file /nonexistent/token does"),
]
NOWHERE = "http://127.0.0.1:9"
"""An API URL nothing answers: a case that got past its checks fails there, never in the cloud."""
CHECKED_BEFORE_THE_NETWORK = [
    (("bench", "--max-failures", "101%"), "--max-failures takes a percentage up to 100%, not 101%"),
    (
        ("cp-list", "--api-url", "ftp://x", "--token-file", "{token}"),
        "--api-url takes an http(s) URL or `local`, not 'ftp://x'",
    ),
    (
        ("cloud-up", "--api-url", "notaurl", "--dry-run", "--token-file", "{token}"),
        "--api-url takes an http(s) URL or `local`, not 'notaurl'",
    ),
    (
        (
            "cloud-down",
            "--account",
            "",
            "--dry-run",
            "--api-url",
            NOWHERE,
            "--token-file",
            "{token}",
        ),
        "--account needs an account name, not an empty one",
    ),
    (
        ("cloud-up", "--account", "a.b", "--api-url", NOWHERE, "--token-file", "{token}"),
        "--account 'a.b' cannot name an account",
    ),
    (
        ("cp-create", "--name", "a b", "--api-url", NOWHERE, "--token-file", "{token}"),
        "--name 'a b' cannot name an account",
    ),
]
"""Usage errors found before any request: an API URL nothing answers shows none was sent."""
"""Every numeric or enumerated flag of every task that takes one, beyond test_flags.py's."""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(args, message, id=" ".join(args))
        for args, message in BAD_VALUES + CHECKED_BEFORE_THE_NETWORK
    ],
)
def test_a_bad_flag_value_is_one_line_and_exit_2(
    tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    token = tmp_path / "token"
    token.write_text("a-token")
    env = {
        **stack_environment(tmp_path / "stack", "native"),
        "CLOUD_DIR": str(tmp_path / "cloud"),
        "XDG_CONFIG_HOME": str(tmp_path / "xdg"),
    }
    result = invoke(env, *(arg.replace("{token}", str(token)) for arg in args))
    one_usage_error(result.returncode, result.stdout, result.stderr, message)


STACK_TASKS = [
    ("up",),
    ("down",),
    ("status",),
    ("logs",),
    ("req", "678"),
    ("events",),
    ("seed",),
    ("context",),
    ("token",),
    ("bench",),
    ("cp-list", "--api-url", "local"),
    ("cloud-up", "--api-url", "local", "--dry-run"),
]
"""Every task that reads the local stack's `STACK_*` variables."""

BAD_VARIABLES = [
    ("STACK_NATS_MONITOR_PORT", "-5", "STACK_NATS_MONITOR_PORT: Input should be greater than"),
    ("STACK_DYNAMODB_PORT", "70000", "STACK_DYNAMODB_PORT: Input should be less than"),
    ("STACK_GATEWAY_PORT", "x", "STACK_GATEWAY_PORT: Input should be a valid integer"),
    ("STACK_CONTROLPLANE_PORT", "-1", "STACK_CONTROLPLANE_PORT: Input should be greater than"),
    ("STACK_MODE", "bogus", "STACK_MODE: Input should be 'auto', 'native' or 'docker'"),
    ("STACK_PROJECT", "Bad Name", "STACK_PROJECT: String should match pattern"),
    ("STACK_SERVICE_DDB_BATCH_MAX", "abc", "DDB_BATCH_MAX: Input should be a valid integer"),
    ("STACK_SERVICE_NOPE", "1", "STACK_SERVICE_NOPE: the service has no setting NOPE"),
]
"""Every `STACK_*` variable with a checked value (STACK_NATS_PORT: test_flags.py)."""


@pytest.mark.parametrize("args", STACK_TASKS, ids=[" ".join(a) for a in STACK_TASKS])
def test_every_stack_task_names_a_bad_stack_variable(tmp_path: Path, args: tuple[str, ...]) -> None:
    env = {
        **stack_environment(tmp_path / "stack", "native"),
        "STACK_GATEWAY_PORT": "x",
        "XDG_CONFIG_HOME": str(tmp_path / "xdg"),
    }
    result = invoke(env, *args)
    one_usage_error(
        result.returncode, result.stdout, result.stderr, "invalid configuration: STACK_GATEWAY_PORT"
    )


@pytest.mark.parametrize(
    ("variable", "value", "message"), BAD_VARIABLES, ids=[v for v, _, _ in BAD_VARIABLES]
)
def test_up_names_every_bad_stack_variable(
    tmp_path: Path, variable: str, value: str, message: str
) -> None:
    """`up` reads them all, the replicas' settings too; nothing starts."""
    env = {**stack_environment(tmp_path / "stack", "native"), variable: value}
    result = invoke(env, "up")
    one_usage_error(result.returncode, result.stdout, result.stderr, message)
    assert invoke(env | {variable: ""}, "status").returncode == 3  # nothing runs
