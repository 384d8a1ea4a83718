"""The image-dependency contract: the runtime (`service/`) imports only the standard library,
itself, and what the image installs, which is pyproject's `[project] dependencies` and what
they require in turn. The allowed set is derived from those declarations, never kept by hand,
so a new `import httpx` in the runtime fails `invoke check` until httpx is declared.

Imports under `if TYPE_CHECKING:` are not run, so they need no installed package (the
DynamoDB type stubs are a development dependency).
"""

from __future__ import annotations

import ast
import sys
import tomllib
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from devkit.project import ROOT

RUNTIME = "service"


@dataclass(frozen=True)
class ForeignImport:
    """One import of a module the image does not install."""

    path: Path
    line: int
    module: str

    def describe(self, root: Path) -> str:
        return (
            f"{self.path.relative_to(root)}:{self.line}: imports {self.module}, which the image"
            " does not install (add its distribution to [project] dependencies, or move the"
            " code to devkit/)"
        )


def declared_requirements(pyproject: Path) -> list[Requirement]:
    """pyproject's `[project] dependencies`: what the image's `pip install` installs."""
    document = tomllib.loads(pyproject.read_text())
    return [Requirement(line) for line in document["project"]["dependencies"]]


def installed_closure(requirements: list[Requirement]) -> set[str]:
    """The distributions those requirements bring, with the extras they ask for (as installed
    here, which `pip install` resolved from the same declarations)."""
    seen: set[str] = set()
    pending = [(requirement, frozenset(requirement.extras)) for requirement in requirements]
    while pending:
        requirement, extras = pending.pop()
        name = canonicalize_name(requirement.name)
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = metadata.requires(requirement.name) or []
        except metadata.PackageNotFoundError:
            continue  # declared but not installed here: its own imports are unknown, not allowed
        for line in requires:
            needed = Requirement(line)
            if needed.marker is None or any(
                needed.marker.evaluate({"extra": extra}) for extra in (extras or {""})
            ):
                pending.append((needed, frozenset(needed.extras)))
    return seen


def importable_names(distributions: set[str]) -> set[str]:
    """The top-level modules those distributions provide (e.g. nats-py provides `nats`)."""
    provided = metadata.packages_distributions()
    return {
        module
        for module, owners in provided.items()
        if any(canonicalize_name(owner) in distributions for owner in owners)
    }


def _type_checking_only(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, top-level module) of every import that runs, skipping `if TYPE_CHECKING:`."""
    found: list[tuple[int, str]] = []
    pending: list[ast.AST] = [tree]
    while pending:
        node = pending.pop()
        if isinstance(node, ast.If) and _type_checking_only(node):
            pending.extend(node.orelse)
            continue
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name.split(".")[0]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module.split(".")[0]))
        pending.extend(ast.iter_child_nodes(node))
    return sorted(found)


def foreign_imports(root: Path) -> list[ForeignImport]:
    """Every import in `root/service` of a module neither the standard library, the runtime
    itself, nor installed by `root/pyproject.toml`'s declared dependencies."""
    allowed = importable_names(installed_closure(declared_requirements(root / "pyproject.toml")))
    allowed |= set(sys.stdlib_module_names) | {RUNTIME, "__future__"}
    return [
        ForeignImport(path, line, module)
        for path in sorted((root / RUNTIME).rglob("*.py"))
        for line, module in _imports(ast.parse(path.read_text(), str(path)))
        if module not in allowed
    ]


def main(root: Path = ROOT) -> int:
    """`python -m devkit.image_imports`: one line per foreign import, exit 1 if any."""
    foreign = foreign_imports(root)
    for each in foreign:
        print(f"error: {each.describe(root)}", file=sys.stderr)
    if foreign:
        return 1
    print("The runtime imports only what the image installs ([project] dependencies): kept")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT))
