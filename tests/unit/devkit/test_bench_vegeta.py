"""vegeta as the HTTP load generator: the flags it is given, and its results counted as the
Python generator counts them, without running it."""

from __future__ import annotations

import base64
import contextlib
import csv
import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from devkit.bench.options import BenchOptions, load_generator
from devkit.bench.plan import LoadPlan, ServiceAddress
from devkit.bench.vegeta import attack_arguments, load_result, nats_headers, tally, targets
from devkit.flags import FlagError
from devkit.gotools import VEGETA, built_name
from devkit.project import ROOT

PLAN = LoadPlan(requests=5, concurrency=3, timeout_s=2.0, ids=("1", "2"))
GATEWAY = ServiceAddress("http://127.0.0.1:8080", None, http_token="Bearer secret-token")


def headers_block(**headers: str) -> str:
    block = "".join(f"{name}: {value}\r\n" for name, value in headers.items()) + "\r\n"
    return base64.b64encode(block.encode()).decode()


def row(
    sent_ns: int,
    status: int,
    latency_ns: int,
    body: bytes = b"",
    error: str = "",
    headers: str = "",
) -> list[str]:
    encoded = base64.b64encode(body).decode()
    fields = [str(sent_ns), str(status), str(latency_ns), "20", str(len(body)), error, encoded]
    return [*fields, "", "1", "POST", "http://x", headers]


def as_csv(rows: list[list[str]]) -> list[list[str]]:
    """Through the csv module both ways, as vegeta writes and the bench reads."""
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return list(csv.reader(out.getvalue().splitlines()))


def test_go_names_a_major_version_module_after_the_element_before() -> None:
    assert built_name(VEGETA.module) == "vegeta"
    assert built_name("github.com/nats-io/natscli/nats") == "nats"
    assert built_name("github.com/Shopify/toxiproxy/v2/cmd/server") == "server"


def test_one_target_per_request_with_the_token_in_a_header() -> None:
    lines = [orjson.loads(line) for line in targets(GATEWAY, PLAN)]
    assert len(lines) == 5
    assert lines[0]["url"] == "http://127.0.0.1:8080/v1/nats/subjects/customer.balance?timeout=2000"
    assert lines[0]["header"]["Authorization"] == ["Bearer secret-token"]
    bodies = [orjson.loads(base64.b64decode(line["body"])) for line in lines]
    assert [body["client_id"] for body in bodies] == ["1", "2", "1", "2", "1"]


def test_a_closed_loop_is_rate_0_with_exactly_concurrency_workers(tmp_path: Path) -> None:
    arguments = attack_arguments(PLAN, tmp_path / "r")
    assert {"-rate=0", "-workers=3", "-max-workers=3", "-lazy", "-format=json"} <= set(arguments)
    assert not any("secret" in argument for argument in arguments)  # never on a command line


def test_an_open_loop_is_a_fixed_rate(tmp_path: Path) -> None:
    plan = LoadPlan(requests=5, concurrency=3, timeout_s=2.0, ids=("1",), rate=250.0)
    arguments = attack_arguments(plan, tmp_path / "r")
    assert "-rate=250/1s" in arguments
    assert "-rate=0" not in arguments


def test_results_are_counted_as_the_python_generator_counts_them() -> None:
    error = headers_block(
        **{"Natsh-Nats-Service-Error-Code": "404", "Natsh-Nats-Service-Error": "x"}
    )
    counted = tally(
        as_csv(
            [
                row(1_000_000_000, 200, 2_000_000, b'{"balance":5}'),
                row(1_001_000_000, 200, 3_000_000, b'{"error":{}}', headers=error),
                row(1_002_000_000, 504, 9_000_000),
                row(1_003_000_000, 0, 3_000_000_000, error="net/http: Client.Timeout exceeded"),
                row(1_004_000_000, 503, 1_000_000),
                row(1_005_000_000, 401, 1_000_000),
                row(1_006_000_000, 0, 1_000, error="dial tcp: connection refused"),
                row(0, 0, 0, error="no targets to attack"),
            ]
        )
    )
    assert (counted.ok, counted.errors, counted.timeouts) == (1, {"404": 1}, 2)
    assert (counted.no_responders, counted.failed, counted.requests) == (1, 2, 7)
    assert counted.histogram.get_total_count() == 2  # answers are timed; failures are not
    result = load_result(PLAN, counted, generator_cpu_s=0.5)
    assert result.duration_s == pytest.approx(3.003)  # first send to the last answer
    assert result.send_s == pytest.approx(0.006)
    assert result.generator_cpu_s == 0.5


def test_the_gateways_nats_headers_are_read_back() -> None:
    block = headers_block(**{"Natsh-Nats-Service-Error-Code": "503", "Content-Type": "text/plain"})
    assert nats_headers(block) == {"Nats-Service-Error-Code": "503"}
    assert nats_headers("") == {}


def test_vegeta_is_the_http_default_and_python_stays_selectable() -> None:
    assert load_generator("", http=True, clients=1) == "vegeta"
    assert load_generator("python", http=True, clients=1) == "python"
    assert load_generator("", http=False, clients=1) == "python"
    assert load_generator("", http=True, clients=4) == "python"  # --clients is Python's


@pytest.mark.parametrize(
    ("text", "http", "clients", "says"),
    [
        ("wrk", True, 1, "--generator takes vegeta or python, not 'wrk'"),
        ("vegeta", False, 1, "--generator vegeta sends HTTP: give --http too"),
        ("vegeta", True, 2, "--clients counts Python generator processes"),
    ],
)
def test_a_generator_that_cannot_do_the_run_is_a_usage_error(
    text: str, http: bool, clients: int, says: str
) -> None:
    with pytest.raises(FlagError, match=says) as raised:
        load_generator(text, http=http, clients=clients)
    assert "\n" not in str(raised.value)


def test_options_carry_the_generator() -> None:
    common = dict(
        requests="10",
        concurrency="2",
        timeout="5",
        ids="1..3",
        clients="1",
        rate="",
        warmup="0",
        context="",
        creds="",
        server="",
        json_="",
        baseline=False,
        replicas="",
        max_failures="0",
    )
    assert BenchOptions.parse(**common, http=True).generator == "vegeta"  # type: ignore[arg-type]
    assert BenchOptions.parse(**common, http=True, generator="python").generator == "python"  # type: ignore[arg-type]


def test_an_interrupted_run_leaves_no_vegeta_attacking(tmp_path: Path) -> None:
    """Ctrl-C (or SIGTERM, which the bench turns into one) during the attack stops vegeta too,
    and the command does not wait for the rest of the targets to be fed."""
    pid_file = tmp_path / "vegeta.pid"
    fake = tmp_path / "vegeta"
    # It says its pid once the first target arrived: the bench is then inside its attack.
    fake.write_text(f"#!/bin/sh\nhead -c 1 >/dev/null\necho $$ > {pid_file}\nexec sleep 60\n")
    fake.chmod(0o755)
    program = (
        "from pathlib import Path\n"
        "from devkit.bench.plan import LoadPlan, ServiceAddress\n"
        "from devkit.bench.vegeta import run_vegeta\n"
        "plan = LoadPlan(requests=10_000_000, concurrency=3, timeout_s=2.0, ids=('1',))\n"
        "target = ServiceAddress('http://127.0.0.1:9', None, http_token='Bearer t')\n"
        f"run_vegeta(target, plan, binary=Path({str(fake)!r}))\n"
    )
    bench = subprocess.Popen([sys.executable, "-c", program], cwd=ROOT, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not pid_file.exists() or not pid_file.read_text().strip():
            assert bench.poll() is None, "the bench ended before vegeta started"
            assert time.monotonic() < deadline, "no fake vegeta ran within 30 s"
            time.sleep(0.05)
        vegeta = int(pid_file.read_text())
        bench.send_signal(signal.SIGINT)
        assert bench.wait(15) != 0  # interrupted, within seconds although targets remained
        with pytest.raises(ProcessLookupError):
            os.kill(vegeta, 0)
    finally:
        bench.kill()
        bench.wait()
        if pid_file.exists() and pid_file.read_text().strip():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid_file.read_text()), signal.SIGKILL)
