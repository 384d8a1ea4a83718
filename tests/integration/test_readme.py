"""The documents' runnable blocks (the README's, docs/'s), run against a fresh stack: what they
show is what the tasks print.

A block marked `<!-- runnable -->` is a console block of `$ command` lines, each followed by the
output it shows. Placeholders stand for what differs from run to run (`<pid>`, `<n>`, any other
`<words>`), a line `...` for any number of lines; spaces are compared as one, so a wider pid does
not shift a column out of shape. The marker is described in docs/testing.md.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from devkit.stack.config import StackConfig
from tests.support.commands import ROOT, invoke, stack_environment, taken_port

pytestmark = [
    pytest.mark.integration,
    pytest.mark.native_pass("the README's blocks run in the native pass"),
]
"""The README shows the native stack, and its blocks run against one, so the container pass would only repeat it (CI time)."""


MARKER = "<!-- runnable -->"
ANY_LINES = "..."
NUMBERS = {"<pid>": r"\d+", "<n>": r"-?\d+"}
PLACEHOLDER = re.compile(r"<[A-Za-z][\w .-]*>")
STACK_PORTS = {
    f"STACK_{field.upper()}": int(StackConfig.model_fields[field].default)
    for field in (
        "nats_port",
        "nats_monitor_port",
        "dynamodb_port",
        "gateway_port",
        "controlplane_port",
    )
}
"""The ports the test's stack uses in place of the defaults the README shows."""


@dataclass(frozen=True)
class Step:
    command: str
    expected: tuple[str, ...]


def runnable_blocks(markdown: str) -> list[list[Step]]:
    """Every console block right after the marker, as commands with the output each shows."""
    blocks = []
    lines = markdown.splitlines()
    for number, line in enumerate(lines):
        if line.strip() != MARKER:
            continue
        fence = lines[number + 1].strip()
        if fence != "```console":
            raise ValueError(f"line {number + 2}: {MARKER} must precede a ```console block")
        body = []
        for inner in lines[number + 2 :]:
            if inner.strip() == "```":
                break
            body.append(inner)
        blocks.append(_steps(body))
    return blocks


def _steps(body: list[str]) -> list[Step]:
    steps: list[Step] = []
    for line in body:
        if line.startswith("$ "):
            steps.append(Step(line[2:], ()))
        elif not steps:
            raise ValueError(f"output before any command: {line!r}")
        else:
            steps[-1] = Step(steps[-1].command, (*steps[-1].expected, line))
    return steps


def line_pattern(expected: str) -> re.Pattern[str]:
    """One shown line as a regular expression: placeholders become what they stand for."""
    parts = []
    position = 0
    for match in PLACEHOLDER.finditer(expected):
        parts.append(_spaced(expected[position : match.start()]))
        parts.append(NUMBERS.get(match.group(), r".+?"))
        position = match.end()
    parts.append(_spaced(expected[position:]))
    return re.compile("".join(parts))


def _spaced(text: str) -> str:
    """Literal text, where any run of spaces stands for any run of spaces."""
    return re.sub(r"(?:\\ )+", lambda _: r"\s+", re.escape(text))


def output_matches(expected: tuple[str, ...], actual: list[str]) -> bool:
    """True when the actual lines have the shown shape (`...` takes any number of lines)."""
    if not expected:
        return not actual
    first, rest = expected[0], expected[1:]
    if first.strip() == ANY_LINES:
        return any(output_matches(rest, actual[skip:]) for skip in range(len(actual) + 1))
    if not actual:
        return False
    if line_pattern(first).fullmatch(actual[0].strip()) is None:
        return False
    return output_matches(rest, actual[1:])


def as_shown(output: str, taken: dict[str, int]) -> list[str]:
    """The output as the README would show it: the defaults' ports, not the ones the stack took."""
    for variable, default in STACK_PORTS.items():
        output = re.sub(rf"(?<!\d){taken[variable]}(?!\d)", str(default), output)
    return output.rstrip("\n").splitlines()


def test_the_shape_check_tells_a_drift() -> None:
    shown = ("nats          <pid>  healthy  nats://127.0.0.1:4222", "...", '{"balance":<n>}')
    assert output_matches(shown, ["nats  12  healthy  nats://127.0.0.1:4222", '{"balance":7}'])
    assert output_matches(shown, ["nats 9 healthy nats://127.0.0.1:4222", "x", '{"balance":1}'])
    assert not output_matches(shown, ["nats  12  degraded  nats://127.0.0.1:4222", '{"balance":7}'])
    assert not output_matches(shown, ["nats  x  healthy  nats://127.0.0.1:4222", '{"balance":7}'])
    assert not output_matches(shown, ["nats  12  healthy  nats://127.0.0.1:4222", '{"error":7}'])
    assert not output_matches(("Stopped: balance-2",), ["Stopped: balance-2", "extra"])


def test_the_readme_has_runnable_blocks() -> None:
    blocks = runnable_blocks((ROOT / "README.md").read_text())
    assert blocks, f"the README has no block marked {MARKER}"
    assert all(steps for steps in blocks)


RUNNABLE = [
    str(path.relative_to(ROOT))
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    if MARKER in path.read_text()
]
"""The documents with a runnable block, each run against a stack of its own."""
SHOWN_CLOUD_DIR = "/path/to/clone/.cloud"
"""Where the documents show `.cloud/` (the test's is a temporary folder)."""


@pytest.mark.parametrize("document", RUNNABLE)
def test_the_runnable_blocks_print_what_they_show(tmp_path: Path, document: str) -> None:
    """As the quick start leaves a reader: `invoke up` has run; then every block, in order.

    The reader's `invoke up` starts the default stack, one nats-server, and the documents show
    its output: so does this stack, whatever `--nats-nodes` the other tests run with."""
    env = {
        **stack_environment(tmp_path / "stack", "native", nats_nodes=1),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "XDG_CONFIG_HOME": str(tmp_path / "xdg"),
        "CLOUD_DIR": str(tmp_path / "cloud"),
    }
    try:
        started = invoke(env, "up")
        assert started.returncode == 0, started.stdout + started.stderr
        taken = {variable: taken_port(env, variable) for variable in STACK_PORTS}
        for steps in runnable_blocks((ROOT / document).read_text()):
            for step in steps:
                ran = subprocess.run(
                    ["/bin/bash", "-c", step.command],
                    cwd=ROOT,
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                    timeout=180,
                    check=False,
                )
                printed = ran.stdout.replace(env["CLOUD_DIR"], SHOWN_CLOUD_DIR)
                shown = "\n".join(step.expected)
                assert ran.returncode == 0, f"$ {step.command} exited {ran.returncode}:\n{printed}"
                assert output_matches(step.expected, as_shown(printed, taken)), (
                    f"$ {step.command} printed:\n{printed}\n{document} shows:\n{shown}"
                )
    finally:
        invoke(env, "down", "--wipe")
