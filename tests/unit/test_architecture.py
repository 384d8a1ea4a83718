"""The tree keeps the shape the architecture promises: layering checked, modules kept small."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.commands import ROOT

PACKAGES = ("service", "devkit")
MAX_LINES = 300


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    """`lint-imports` over a copy of the packages, so the copy, not the checkout, is analysed."""
    return subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports"), "--config", "pyproject.toml"],
        cwd=tree,
        env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_import_contracts_hold(tree: Path) -> None:
    result = lint_imports(tree)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("service/names.py", "import devkit.project", "The runtime never imports the platform"),
        ("service/protocol.py", "import yaml", "The runtime imports only what the image installs"),
        ("devkit/auth/security.py", "import devkit.stack.config", "depend downward only"),
        ("service/faults.py", "import service.app", "No import cycles"),
    ],
)
def test_a_forbidden_import_breaks_a_contract(
    tree: Path, module: str, line: str, contract: str
) -> None:
    with (tree / module).open("a") as file:
        file.write(f"\n{line}  # noqa\n")
    result = lint_imports(tree)
    assert result.returncode != 0
    broken = [row for row in result.stdout.splitlines() if row.endswith("BROKEN")]
    assert any(contract in row for row in broken), result.stdout


def test_no_module_is_over_300_lines() -> None:
    modules = [ROOT / "tasks.py"]
    for folder in (*PACKAGES, "tests"):
        modules += (ROOT / folder).rglob("*.py")
    long = {
        str(path.relative_to(ROOT)): lines
        for path in modules
        if (lines := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert len(modules) > 50
    assert long == {}
