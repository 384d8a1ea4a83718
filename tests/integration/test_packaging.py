"""What the image installs, built the way the Dockerfile builds it: the runtime package and its
runtime dependencies, and nothing of the platform, the extras or the tests."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.support.commands import ROOT, clean_environment

pytestmark = pytest.mark.integration

LIST_INSTALL = """
import importlib.metadata as m, json
print(json.dumps({
    "distributions": sorted(d.metadata["Name"] for d in m.distributions()),
    "top_level": sorted({name for names in m.packages_distributions().values() for name in names}
                        | set(m.packages_distributions())),
    "project_files": [str(f) for f in m.files("nats-customer-balance")],
}))
"""


def build_stage_sources() -> list[str]:
    """What the Dockerfile's build stage copies into its context, in order."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    build_stage = dockerfile.split("FROM ", 2)[1]
    sources: list[str] = []
    for match in re.finditer(r"^COPY (?!--from)(.+)$", build_stage, re.MULTILINE):
        sources += match[1].split()[:-1]
    return sources


@pytest.fixture(scope="module")
def runtime_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment with `pip install .` of exactly the Dockerfile's context."""
    workdir = tmp_path_factory.mktemp("image")
    context = workdir / "context"
    context.mkdir()
    for source in build_stage_sources():
        if (ROOT / source).is_dir():
            shutil.copytree(
                ROOT / source, context / source, ignore=shutil.ignore_patterns("__pycache__")
            )
        else:
            shutil.copy(ROOT / source, context / source)
    venv = workdir / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    installed = subprocess.run(
        [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q", str(context)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    unreachable = _index_unreachable(installed.stderr)
    if installed.returncode != 0 and unreachable:
        pytest.fail(
            "these tests build the image's package with pip, which needs the Python package"
            " index (or a pip cache holding setuptools and the runtime dependencies); pip could"
            f" not reach it: {unreachable}",
            pytrace=False,
        )
    assert installed.returncode == 0, installed.stderr
    return python


_UNREACHABLE = (
    "No matching distribution found",
    "Could not find a version that satisfies",
    "NewConnectionError",
    "Temporary failure in name resolution",
)


def _index_unreachable(pip_said: str) -> str:
    """pip's line saying it could not reach the index (offline, a proxy down), or ""."""
    lines = (line.strip() for line in pip_said.splitlines())
    return next((line for line in lines if any(s in line for s in _UNREACHABLE)), "")


@pytest.fixture(scope="module")
def install(runtime_venv: Path) -> dict[str, list[str]]:
    # Run away from the checkout: `python -c` puts the working directory on sys.path.
    listed = subprocess.run(
        [str(runtime_venv), "-c", LIST_INSTALL],
        cwd=runtime_venv.parents[2],
        capture_output=True,
        text=True,
        check=True,
    )
    contents: dict[str, list[str]] = json.loads(listed.stdout)
    return contents


def test_the_build_context_is_the_runtime_package_only() -> None:
    assert build_stage_sources() == ["pyproject.toml", "README.md", "service"]


def test_the_install_holds_the_runtime_package_and_nothing_of_the_platform(
    install: dict[str, list[str]],
) -> None:
    assert "service" in install["top_level"]
    for foreign in ("devkit", "tests", "tasks"):
        assert foreign not in install["top_level"], foreign
    code = [f for f in install["project_files"] if f.endswith(".py")]
    assert code, "the project's own files are listed"
    assert all(f.startswith("service/") for f in code), code
    shipped = {Path(f).name for f in code}
    assert shipped == {p.name for p in (ROOT / "service").glob("*.py")}


def test_no_library_of_an_extra_is_installed(install: dict[str, list[str]]) -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = {canonicalize_name(Requirement(r).name) for r in project["dependencies"]}
    extras = {
        canonicalize_name(Requirement(r).name)
        for requirements in project["optional-dependencies"].values()
        for r in requirements
    } - {canonicalize_name(project["name"])}
    installed = {canonicalize_name(name) for name in install["distributions"]}
    assert runtime <= installed
    assert extras, "the extras are read"
    # The platform declares what it imports; a runtime dependency may need the same library.
    needed_by_runtime = {
        canonicalize_name(Requirement(r).name)
        for dependency in runtime
        for r in metadata.requires(dependency) or []
        if "extra ==" not in r
    }
    assert "aiohttp" in needed_by_runtime  # through aiobotocore: the gateway's server comes free
    assert sorted((extras & installed) - needed_by_runtime) == []


def test_runtime_dependencies_alone_start_the_service(runtime_venv: Path, tmp_path: Path) -> None:
    started = subprocess.run(
        [str(runtime_venv), "-m", "service"],
        cwd=tmp_path,
        env=clean_environment(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert started.returncode == 2, started.stderr
    assert started.stderr.startswith("error: invalid configuration: DDB_TABLE")
