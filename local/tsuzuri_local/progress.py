"""Progress of long work (a folder publish, a rebuild, the first load of ``tsuzuri dev``):
count, rate and time left, as a bar on a terminal and as plain lines otherwise.

The bar is tqdm's. In a log or a pipe a bar redrawn with carriage returns is noise, so
there each step (or one every few seconds) is one plain line with the same figures.
tqdm comes with the local tools' extras; without it a terminal gets the plain lines.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import IO, Any


def _tqdm(stream: IO[str]) -> Any:
    """tqdm's class when ``stream`` is a terminal and tqdm is installed, else None."""
    try:
        # A terminal of no known width (a pty nobody sized) would show an empty bar.
        if not stream.isatty() or os.get_terminal_size(stream.fileno()).columns == 0:
            return None
    except (AttributeError, ValueError, OSError):  # a closed or fake stream
        return None
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover - the dev extras install it
        return None
    return tqdm


def duration(seconds: float) -> str:
    """``42 s``, ``3 min 5 s``, ``1 h 2 min``: what a person reads at a glance."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


class Progress:
    """``advance()`` after each unit of work; ``write()`` prints a line above the bar.

    ``every_s`` spaces the plain lines (0: one per step, as ``tsuzuri publish`` lists
    each upload). Safe to call from several threads (the dev stack's pumps).
    """

    def __init__(
        self,
        total: int,
        what: str,
        *,
        unit: str = "file",
        stream: IO[str] | None = None,
        every_s: float = 0.0,
        bar: bool | None = None,
    ):
        self.total, self.what, self.unit = total, what, unit
        self.done = 0
        self._stream = stream if stream is not None else sys.stderr
        self._every_s = every_s
        self._started = time.perf_counter()
        self._last_line = 0.0
        self._lock = threading.Lock()
        tqdm = _tqdm(self._stream) if bar is None or bar else None
        self._bar: Any = (
            tqdm(
                total=total, desc=what, unit=f" {unit}s", file=self._stream,
                dynamic_ncols=True, leave=True,
            )
            if tqdm is not None
            else None
        )  # fmt: skip

    @property
    def is_bar(self) -> bool:
        return self._bar is not None

    def expect(self, more: int) -> None:
        """More work joined (files found after the start)."""
        with self._lock:
            self.total += more
            if self._bar is not None:
                self._bar.total = self.total
                self._bar.refresh()

    def advance(self, steps: int = 1, note: str = "") -> None:
        self.update_to(self.done + steps, note)

    def update_to(self, done: int, note: str = "") -> None:
        with self._lock:
            steps, self.done = done - self.done, done
            if self._bar is not None:
                if steps:
                    self._bar.update(steps)
                return
            now = time.perf_counter()
            if self._every_s and now - self._last_line < self._every_s and done < self.total:
                return
            self._last_line = now
            print(self.line(note), file=self._stream, flush=True)

    def line(self, note: str = "") -> str:
        """``[12/46] uploaded posts/a.md (3.1 files/s, about 11 s left)``."""
        elapsed = time.perf_counter() - self._started
        rate = self.done / elapsed if elapsed > 0 else 0.0
        figures = f"{rate:.1f} {self.unit}s/s"
        if self.done >= self.total:
            figures += f", {duration(elapsed)} in all"
        elif rate > 0:
            figures += f", about {duration((self.total - self.done) / rate)} left"
        text = f" {note}" if note else ""
        return f"[{self.done}/{self.total}] {self.what}{text} ({figures})"

    def write(self, line: str, file: IO[str] | None = None) -> None:
        """Print a line without breaking the bar (it is redrawn below the line)."""
        target = file if file is not None else sys.stdout
        with self._lock:
            if self._bar is not None:
                self._bar.write(line, file=target)
            else:
                print(line, file=target, flush=True)

    def close(self) -> None:
        with self._lock:
            if self._bar is not None:
                self._bar.close()
                self._bar = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
