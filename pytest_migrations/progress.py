"""Progress while a walk runs: a long history is 20 to 40 seconds of silence per engine otherwise.

On a terminal one line per engine is rewritten in place (revision i/N, the revision, elapsed time); in a
CI log (no TTY) a line is written at least every `interval` seconds; under -q nothing is written.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

DEFAULT_INTERVAL = 10.0  # seconds between two lines in a CI log


@dataclass
class Progress:
    """Told each revision a walk reaches; decides what to write, and when."""

    write: Callable[[str, bool], None]  # (text, in place)
    tty: bool
    interval: float = DEFAULT_INTERVAL
    clock: Callable[[], float] = time.monotonic
    _started: dict[str, float] = field(default_factory=dict)
    _last: dict[str, float] = field(default_factory=dict)

    def step(self, engine: str, phase: str, index: int, total: int, revision: str) -> None:
        now = self.clock()
        started = self._started.setdefault(engine, now)
        text = f"pytest-migrations: {engine}: {phase} revision {index}/{total} ({revision}), {now - started:.0f}s"
        if self.tty:
            self.write(text, True)
        elif now - self._last.get(engine, started) >= self.interval:
            self._last[engine] = now
            self.write(text, False)

    def done(self, engine: str) -> None:
        if self.tty and engine in self._started:
            self.write("", True)  # the live line goes: the summary tells the rest
        self._started.pop(engine, None)
        self._last.pop(engine, None)


def terminal_progress(config: Any) -> Progress | None:
    """Progress on pytest's terminal; None under -q, on an xdist worker, or without a terminal reporter."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None or hasattr(config, "workerinput") or config.getoption("verbose", 0) < 0:
        return None
    capture = config.pluginmanager.get_plugin("capturemanager")

    def write(text: str, in_place: bool) -> None:
        with capture.global_and_fixture_disabled() if capture is not None else nullcontext():
            if in_place:
                reporter.rewrite(text, erase=True)
            else:
                reporter.ensure_newline()
                reporter.write_line(text)

    interval = float(os.environ.get("PYTEST_MIGRATIONS_PROGRESS_SECONDS", DEFAULT_INTERVAL))
    return Progress(write=write, tty=bool(getattr(reporter, "isatty", False)), interval=interval)
