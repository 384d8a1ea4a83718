"""Every task lives in devkit/cli/ and is in the namespace `tasks.py` builds: a task module's
`TASKS` lists each task it defines, so none is left out of `invoke --list`."""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
from types import ModuleType

from invoke.collection import Collection
from invoke.tasks import Task

import devkit.cli
from tests.support.commands import ROOT


def task_modules() -> list[ModuleType]:
    found = [
        importlib.import_module(f"devkit.cli.{info.name}")
        for info in pkgutil.iter_modules(devkit.cli.__path__)
    ]
    return [module for module in found if hasattr(module, "TASKS")]


def load_namespace() -> Collection:
    spec = importlib.util.spec_from_file_location("tasks", ROOT / "tasks.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    namespace: Collection = module.namespace
    return namespace


def test_each_task_module_lists_every_task_it_defines() -> None:
    modules = task_modules()
    assert {module.__name__.rsplit(".", 1)[1] for module in modules} >= {"stack", "bench", "cloud"}
    for module in modules:
        defined = {value for value in vars(module).values() if isinstance(value, Task)}
        assert set(module.TASKS) == defined, module.__name__


def test_the_namespace_holds_every_task_of_every_module_once() -> None:
    tasks = [task for module in task_modules() for task in module.TASKS]
    names = [task.name for task in tasks]
    assert len(names) == len(set(names))
    assert set(load_namespace().tasks) == set(names)
