"""Every repository path a document names exists: a reader who follows one finds the file."""

from __future__ import annotations

import importlib
import re

import pytest

from tests.support.commands import ROOT

DOCUMENTS = [
    "README.md",
    "Dockerfile",
    "compose/docker-compose.yml",
    "copilot/balance/manifest.yml",
    "copilot/balance/addons/balances.yml",
    *(str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md")),
]
TOP_LEVEL = ("service", "devkit", "tests", "docs", "compose", "copilot", ".ci")
CITED = re.compile(
    r"(?<![\w./-])((?:" + "|".join(re.escape(t) for t in TOP_LEVEL) + r")/[\w./-]*\w"
    r"|[\w-]+\.(?:md|py|toml|yml|yaml))(?![\w/-])"
)
NOT_OURS = {
    "seed.<table>",  # a KV key
}
GENERATED = (".stack/",)


def cited_paths(text: str) -> set[str]:
    paths = set()
    for match in CITED.finditer(text):
        path = match.group(1).rstrip(".")
        if "<" in path or path in NOT_OURS or path.startswith(GENERATED):
            continue
        paths.add(path)
    return paths


@pytest.mark.parametrize("document", DOCUMENTS)
def test_every_cited_repository_path_exists(document: str) -> None:
    text = (ROOT / document).read_text()
    cited = cited_paths(text)
    missing = sorted(
        path for path in cited if not (ROOT / path).exists() and not _found_below(path)
    )
    assert missing == [], f"{document} cites files that do not exist: {missing}"


def _found_below(name: str) -> bool:
    """A bare file name (`decisions.md`) counts when the repository has exactly such a file."""
    if "/" in name:
        return False
    return any(
        path.name == name and ".venv" not in path.parts and ".git" not in path.parts
        for path in ROOT.rglob(name)
    )


def test_the_check_finds_a_missing_file() -> None:
    assert "seed-README.md" in cited_paths("described in `seed-README.md` (Fargate)")
    assert not (ROOT / "seed-README.md").exists()


README = ROOT / "README.md"
FIRST_SCREEN = 70
"""Lines a reader sees before scrolling, about: the quick start, the day to day and the map."""
TASK_ROW = re.compile(r"^\| `invoke [a-z]")
TASK_NAME = re.compile(r"`invoke ([a-z][a-z-]*)")
FLAG = re.compile(r"(?<![\w-])(--(?:\[no-\])?[a-z][a-z-]*|-[a-z])(?![\w-])")


def task_rows(markdown: str) -> dict[str, str]:
    """The tasks table: each task's name to the first cell of the row that names it."""
    rows = {}
    for line in markdown.splitlines():
        if TASK_ROW.match(line):
            cell = line.split(" | ")[0]
            for name in TASK_NAME.findall(cell):
                rows[name] = cell
    return rows


def shown_flags(cell: str) -> set[str]:
    return {flag.replace("[no-]", "") for flag in FLAG.findall(cell)}


def spelling(name: str) -> str:
    return f"--{name}" if len(name) > 1 else f"-{name}"


def task_flags() -> dict[str, list[set[str]]]:
    """What `invoke --help TASK` offers (each option's long and short spelling), from the
    namespace `invoke --list` shows."""
    namespace = importlib.import_module("tasks").namespace
    return {
        name: [
            {spelling(n) for n in argument.names}
            | ({f"--no-{argument.names[0]}"} if argument.default is True else set())
            for argument in namespace[name].get_arguments()
            if not argument.positional
        ]
        for name in namespace.task_names
    }


def test_the_readme_is_read_in_five_minutes() -> None:
    lines = README.read_text().splitlines()
    assert len(lines) < 250, f"the README has {len(lines)} lines; move reference to docs/"
    first_screen = "\n".join(lines[:FIRST_SCREEN])
    for heading in ("## Quick start", "## Day to day", "## Where to read on"):
        assert heading in first_screen, f"{heading!r} is not on the README's first screen"


def test_the_readme_links_every_document() -> None:
    text = README.read_text()
    unlinked = [
        p.name for p in sorted((ROOT / "docs").glob("*.md")) if f"](docs/{p.name})" not in text
    ]
    assert unlinked == [], f"the README links no {unlinked}"


def test_the_tasks_table_lists_every_task_with_every_flag() -> None:
    rows = task_rows(README.read_text())
    offered = task_flags()
    assert sorted(rows) == sorted(offered), "the README's tasks table differs from invoke --list"
    for name, options in offered.items():
        shown = shown_flags(rows[name])
        missing = [sorted(option) for option in options if not option & shown]
        assert not missing, f"the README's row for invoke {name} omits {missing}"


def test_the_tasks_table_shows_no_flag_a_task_lacks() -> None:
    rows = task_rows(README.read_text())
    offered = task_flags()
    for name, cell in rows.items():
        spellings = {s for n in TASK_NAME.findall(cell) for o in offered.get(n, []) for s in o}
        unknown = shown_flags(cell) - spellings
        assert not unknown, f"the README's row for invoke {name} shows flags it lacks: {unknown}"


def test_the_table_check_finds_a_missing_task_and_flag() -> None:
    rows = task_rows("| `invoke up [--replicas N]` | start |\n| `invoke down` | stop |\n")
    assert sorted(rows) == ["down", "up"]
    assert shown_flags(rows["up"]) == {"--replicas"}
    assert task_flags()["down"] == [{"--wipe", "-w"}]
    assert {"--wait", "--no-wait", "-w"} in task_flags()["up"]
    assert shown_flags("`invoke test [--[no-]lint] [-k EXPRESSION]`") == {"--lint", "-k"}
