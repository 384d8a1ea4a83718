"""Progress of long work (a benchmark run, a seed): a rich bar with rate and time left on a
terminal, a plain line every few seconds in logs and CI."""

from __future__ import annotations

from collections.abc import Callable

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

PLAIN_EVERY_S = 5.0


def progress_line(done: int, total: int, elapsed_s: float, unit: str, rate_unit: str) -> str:
    """One plain line: how far, how fast, how long still."""
    rate = done / elapsed_s if elapsed_s > 0 else 0.0
    line = f"  {done}/{total} {unit} ({done * 100 // max(total, 1)}%), {rate:,.0f} {rate_unit}"
    if rate > 0 and done < total:
        line += f", about {(total - done) / rate:,.0f} s left"
    return line


class ProgressDisplay:
    def __init__(
        self,
        total: int,
        *,
        interactive: bool,
        unit: str = "requests",
        rate_unit: str = "req/s",
        emit: Callable[[str], None] = lambda line: print(line, flush=True),
        every_s: float = PLAIN_EVERY_S,
    ) -> None:
        self._total = total
        self._interactive = interactive
        self._unit = unit
        self._rate_unit = rate_unit
        self._emit = emit
        self._every_s = every_s
        self._last_line = 0.0
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def __enter__(self) -> ProgressDisplay:
        if self._interactive:
            self._progress = Progress(
                TextColumn(self._unit),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rate]}"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                transient=True,
            )
            self._progress.start()
            self._task = self._progress.add_task("work", total=self._total, rate="")
        return self

    def update(self, done: int, elapsed_s: float) -> None:
        if self._progress is not None and self._task is not None:
            rate = done / elapsed_s if elapsed_s > 0 else 0.0
            self._progress.update(self._task, completed=done, rate=f"{rate:,.0f} {self._rate_unit}")
        elif elapsed_s - self._last_line >= self._every_s and done < self._total:
            self._last_line = elapsed_s
            self._emit(progress_line(done, self._total, elapsed_s, self._unit, self._rate_unit))

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()
