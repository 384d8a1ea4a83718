"""Progress while a run is under way: a rich bar on a terminal, a plain line every 5 s otherwise."""

from __future__ import annotations

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)


class ProgressDisplay:
    def __init__(self, total: int, *, interactive: bool) -> None:
        self._total = total
        self._interactive = interactive
        self._last_line = 0.0
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def __enter__(self) -> ProgressDisplay:
        if self._interactive:
            self._progress = Progress(
                TextColumn("requests"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rate]}"),
                TimeElapsedColumn(),
            )
            self._progress.start()
            self._task = self._progress.add_task("load", total=self._total, rate="")
        return self

    def update(self, done: int, elapsed_s: float) -> None:
        rate = done / elapsed_s if elapsed_s > 0 else 0.0
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, completed=done, rate=f"{rate:,.0f} req/s")
        elif elapsed_s - self._last_line >= 5:
            self._last_line = elapsed_s
            print(f"  {done}/{self._total} requests, {rate:,.0f} req/s", flush=True)

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()
