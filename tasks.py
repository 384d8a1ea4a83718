"""Invoke's entry point: the namespace it loads. Every task lives in devkit/cli/, one module per
capability; `invoke --list` shows them all.

Numbers are taken as text and checked by `devkit.flags` (Invoke's own conversion ends in a
traceback), so every bad value is one line that names its flag.
"""

from __future__ import annotations

from invoke.collection import Collection

from devkit.cli import answers, bench, cloud, nats_cli, stack, suite, twins

namespace = Collection()
for capability in (stack, answers, nats_cli, twins, bench, cloud, suite):
    for each in capability.TASKS:
        namespace.add_task(each)
