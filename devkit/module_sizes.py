"""The largest modules, printed by `invoke check`: a report, not a gate.

A module over about SPLIT_HINT_LINES lines, or with more than one reason to change, is split
along a seam (docs/architecture.md, "Layering"). A hard line limit made good code cramped:
docstrings folded and calls squeezed to stay under it. So the size is shown, and a person
decides where the seam is.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

from devkit.project import ROOT

SPLIT_HINT_LINES: Final = 400
"""Past this, look for a seam: the size the rule in docs/architecture.md names."""

SHOWN: Final = 10
FOLDERS: Final = ("service", "devkit", "tests")


@dataclass(frozen=True)
class ModuleSize:
    path: str
    lines: int


def module_sizes(root: Path) -> list[ModuleSize]:
    """Every Python module of the repository, largest first."""
    paths = [root / "tasks.py"]
    for folder in FOLDERS:
        paths += (root / folder).rglob("*.py")
    sizes = [
        ModuleSize(str(path.relative_to(root)), len(path.read_text().splitlines()))
        for path in paths
        if path.exists()
    ]
    return sorted(sizes, key=lambda size: (-size.lines, size.path))


def render_report(sizes: list[ModuleSize], shown: int = SHOWN) -> list[str]:
    """The `shown` largest modules, each over SPLIT_HINT_LINES marked for a look at its seams."""
    lines = [f"The {min(shown, len(sizes))} largest of {len(sizes)} modules (lines):"]
    for size in sizes[:shown]:
        over = size.lines > SPLIT_HINT_LINES
        mark = f"  <- over ~{SPLIT_HINT_LINES} lines: split along a seam?" if over else ""
        lines.append(f"  {size.lines:5d}  {size.path}{mark}")
    return lines


def main() -> None:
    """`python -m devkit.module_sizes`: the report; it never fails the check."""
    for line in render_report(module_sizes(ROOT)):
        print(line)


if __name__ == "__main__":
    main()
