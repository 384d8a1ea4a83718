"""The tree keeps the shape the architecture promises: the layering, the runtime's imports (only
what the image installs), and no platform vocabulary in the image's package. Sizes are a report
(`python -m devkit.module_sizes`, run by `invoke check`), not a test."""

from __future__ import annotations

import ast
import io
import shutil
import subprocess
import sys
import tokenize
from pathlib import Path

import pytest

from devkit import platform_names
from devkit.image_imports import foreign_imports
from devkit.module_sizes import SPLIT_HINT_LINES, ModuleSize, module_sizes, render_report
from tests.support.commands import ROOT

PACKAGES = ("service", "devkit")


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


def test_the_runtime_imports_only_what_the_image_installs() -> None:
    assert foreign_imports(ROOT) == []


@pytest.mark.parametrize(
    ("module", "line"),
    [
        ("service/protocol.py", "import httpx"),  # the deploy extra's, not the image's
        ("service/store.py", "from yaml import safe_load"),
        ("service/app.py", "import invoke.tasks"),
    ],
)
def test_an_undeclared_import_in_the_runtime_breaks_the_image_contract(
    tree: Path, module: str, line: str
) -> None:
    with (tree / module).open("a") as file:
        file.write(f"\n{line}  # noqa\n")
    found = foreign_imports(tree)
    assert [(each.path.relative_to(tree).as_posix(), each.module) for each in found] == [
        (module, line.split()[1].split(".")[0])
    ]
    result = subprocess.run(
        [sys.executable, "-m", "devkit.image_imports", str(tree)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert f"{module}:" in result.stderr


def test_an_import_only_for_the_type_checker_needs_no_installed_package(tree: Path) -> None:
    with (tree / "service/protocol.py").open("a") as file:
        file.write("\nfrom typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import httpx\n")
    assert foreign_imports(tree) == []


def platform_only_names() -> set[str]:
    """Every name devkit/platform_names.py defines: the platform's vocabulary."""
    source = Path(platform_names.__file__).read_text()
    return {
        target.id
        for node in ast.parse(source).body
        if isinstance(node, ast.AnnAssign | ast.Assign)
        for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
        if isinstance(target, ast.Name)
    }


def platform_names_used(folder: Path) -> dict[str, set[str]]:
    """Which platform-only names each module of `folder` uses as code (not in comments or text)."""
    vocabulary = platform_only_names()
    used: dict[str, set[str]] = {}
    for path in sorted(folder.rglob("*.py")):
        tokens = tokenize.generate_tokens(io.StringIO(path.read_text()).readline)
        found = {token.string for token in tokens if token.type == tokenize.NAME} & vocabulary
        if found:
            used[path.relative_to(folder.parent).as_posix()] = found
    return used


def test_the_image_package_uses_no_platform_only_name() -> None:
    assert len(platform_only_names()) >= 15
    assert platform_names_used(ROOT / "service") == {}


def test_a_platform_name_in_the_runtime_is_found(tree: Path) -> None:
    with (tree / "service/settings.py").open("a") as file:
        file.write("\nPROJECT = names.COMPOSE_PROJECT  # noqa\n")
    assert platform_names_used(tree / "service") == {"service/settings.py": {"COMPOSE_PROJECT"}}


def test_the_size_report_names_the_largest_modules_and_marks_those_past_the_hint() -> None:
    sizes = module_sizes(ROOT)
    assert len(sizes) > 50
    assert [size.lines for size in sizes] == sorted((size.lines for size in sizes), reverse=True)
    big = ModuleSize("devkit/big.py", SPLIT_HINT_LINES + 1)
    small = ModuleSize("devkit/small.py", SPLIT_HINT_LINES)
    report = render_report([big, small, *sizes], shown=2)
    assert report[0].startswith(f"The 2 largest of {len(sizes) + 2} modules")
    assert len(report) == 3
    assert "devkit/big.py" in report[1]
    assert "split along a seam" in report[1]
    assert "devkit/small.py" in report[2]
    assert "split along a seam" not in report[2]
