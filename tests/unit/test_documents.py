"""Every repository path a document names exists: a reader who follows one finds the file."""

from __future__ import annotations

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
