"""What `invoke test` runs: both passes with an engine; without one, a skip that says why, or a
failure in CI, where the container pass is part of the promise."""

from __future__ import annotations

import pytest

from devkit.suite import SuiteError, check_commands, suite_commands

NO_ENGINE = "no Docker engine answers `docker info`"


def test_with_an_engine_both_passes_run() -> None:
    commands, note = suite_commands(
        "tests", selection="", docker_problem=None, ci=True, python="py"
    )
    assert commands == [
        "py -m pytest tests --stack=native -m 'not docker'",
        "py -m pytest tests/integration --stack=docker",
    ]
    assert note is None


def test_without_an_engine_the_container_pass_is_skipped_and_said() -> None:
    commands, note = suite_commands(
        "tests", selection="stack", docker_problem=NO_ENGINE, ci=False, python="py"
    )
    assert commands == ["py -m pytest tests --stack=native -m 'not docker' -k 'stack'"]
    assert note is not None
    assert NO_ENGINE in note


def test_in_ci_a_missing_engine_fails_the_run() -> None:
    with pytest.raises(SuiteError, match="docker-engine up"):
        suite_commands("tests", selection="", docker_problem=NO_ENGINE, ci=True, python="py")


def test_the_checks_include_the_import_contracts() -> None:
    assert check_commands("/venv/bin/python")[-1] == "/venv/bin/lint-imports"


def test_the_checks_report_sizes_and_check_the_image_dependencies() -> None:
    commands = check_commands("/venv/bin/python")
    assert "/venv/bin/python -m devkit.module_sizes" in commands
    assert "/venv/bin/python -m devkit.image_imports" in commands
