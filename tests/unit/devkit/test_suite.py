"""What `invoke test` runs: both passes with an engine; without one, a skip that says why, or a
failure in CI, where the container pass is part of the promise. The native pass runs its tests
that measure nothing on parallel workers, then its measuring tests alone."""

from __future__ import annotations

import pytest

from devkit.suite import MEASURING, SuiteError, check_commands, suite_commands

NO_ENGINE = "no Docker engine answers `docker info`"


def test_with_an_engine_both_passes_run() -> None:
    commands, note = suite_commands(
        "tests", selection="", docker_problem=None, ci=True, python="py", workers=3
    )
    assert commands == [
        "py -m pytest tests --stack=native -m 'not docker and not (serial or chaos)'"
        " -n 3 --dist loadfile --allow-empty",
        "py -m pytest tests --stack=native -m 'not docker and (serial or chaos)' --allow-empty",
        "py -m pytest tests/integration --stack=docker",
    ]
    assert note is None


def test_one_worker_runs_each_pass_in_one_run_as_before() -> None:
    commands, _ = suite_commands(
        "tests", selection="", docker_problem=None, ci=True, python="py", workers=1
    )
    assert commands == [
        "py -m pytest tests --stack=native -m 'not docker'",
        "py -m pytest tests/integration --stack=docker",
    ]


def test_the_measuring_tests_are_every_test_the_parallel_part_leaves_out() -> None:
    parallel, measuring = suite_commands(
        "tests/chaos",
        selection="",
        docker_problem=None,
        ci=False,
        python="py",
        containers=False,
        workers=2,
    )[0]
    assert f"not ({MEASURING})" in parallel
    assert f"and ({MEASURING})" in measuring
    assert "-n" not in measuring.split()


def test_the_cluster_pass_runs_the_integration_tests_on_three_nodes_after_the_native_pass() -> None:
    commands, _ = suite_commands(
        "tests", selection="", docker_problem=None, ci=True, python="py", workers=1, cluster=True
    )
    assert commands == [
        "py -m pytest tests --stack=native -m 'not docker'",
        "py -m pytest tests/integration --stack=native --nats-nodes 3 -m 'not docker'",
        "py -m pytest tests/integration --stack=docker",
    ]


def test_without_an_engine_the_container_pass_is_skipped_and_said() -> None:
    commands, note = suite_commands(
        "tests", selection="stack", docker_problem=NO_ENGINE, ci=False, python="py", workers=2
    )
    assert commands == [
        "py -m pytest tests --stack=native -m 'not docker and not (serial or chaos)'"
        " -n 2 --dist loadfile --allow-empty -k 'stack'",
        "py -m pytest tests --stack=native -m 'not docker and (serial or chaos)'"
        " --allow-empty -k 'stack'",
    ]
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
