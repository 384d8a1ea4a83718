"""Long work shows progress: plain lines for logs and CI, with rate and time left."""

from __future__ import annotations

from devkit.progress import ProgressDisplay, progress_line


def test_a_line_says_how_far_how_fast_and_how_long_still() -> None:
    line = progress_line(20_000, 200_000, 2.9, "rows", "rows/s")
    assert line == "  20000/200000 rows (10%), 6,897 rows/s, about 26 s left"
    assert progress_line(0, 10, 0.0, "rows", "rows/s") == "  0/10 rows (0%), 0 rows/s"


def test_plain_lines_come_every_few_seconds_and_not_for_the_last_step() -> None:
    lines: list[str] = []
    with ProgressDisplay(
        1000, interactive=False, unit="rows", rate_unit="rows/s", emit=lines.append
    ) as shown:
        for done, elapsed in ((100, 1.0), (400, 5.0), (500, 6.0), (900, 10.5), (1000, 16.0)):
            shown.update(done, elapsed)
    assert lines == [
        "  400/1000 rows (40%), 80 rows/s, about 8 s left",
        "  900/1000 rows (90%), 86 rows/s, about 1 s left",
    ]
