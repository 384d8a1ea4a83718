"""Loading a task module costs `invoke` (every command, `--list` included) no heavy library:
each task imports what it uses when it runs (issue #27, a cold `invoke up`)."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.support.commands import ROOT

LIGHT_MODULES = (
    "devkit.cli.stack",
    "devkit.cli.answers",
    "devkit.cli.cloud",
    "devkit.cli.nats_cli",
    "devkit.cli.twins",
    "devkit.cli.bench",
)
"""The task modules that import only Invoke, flags and names when loaded."""

HEAVY = ("nats", "aiohttp", "botocore", "aiobotocore", "httpx", "pydantic", "tenacity", "nkeys")
"""Libraries the tasks use, each a tenth of a second or more to import on this machine."""


def imported_after(modules: tuple[str, ...]) -> set[str]:
    """The top-level packages a fresh interpreter holds after importing `modules`."""
    program = (
        "import importlib, json, sys\n"
        f"for name in {list(modules)!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True, check=True
    )
    loaded: list[str] = json.loads(result.stdout)
    return set(loaded)


def test_the_task_modules_load_no_heavy_library() -> None:
    assert imported_after(LIGHT_MODULES) & set(HEAVY) == set()


def test_running_a_task_still_finds_what_it_imports() -> None:
    """The check above can fail: the modules the tasks import when they run are the heavy ones."""
    loaded = imported_after(("devkit.stack.lifecycle", "devkit.cloud.provision"))
    assert {"nats", "pydantic", "httpx"} <= loaded
