"""A logging filter that keeps a repeated error from flooding the log (a broker outage logs the same line often)."""

from __future__ import annotations

import logging
import time


class RepeatedErrorLimiter(logging.Filter):
    """A logging filter: at most ``burst`` ERROR (or worse) records of the same logger and message template per
    ``window`` seconds; the first one after a window says how many were left out.

    While the broker is away every client call fails and logs (about 100 lines a second from one worker); the
    first lines say what is wrong, the rest would bury everything else. Lower levels pass untouched.
    """

    def __init__(self, burst: int = 3, window: float = 10.0, clock=time.monotonic):
        super().__init__()
        self.burst = burst
        self.window = window
        self.clock = clock
        self._seen: dict[tuple[str, str], list] = {}  # (logger, template) -> [window start, passed, left out]

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.ERROR:
            return True
        now = self.clock()
        key = (record.name, str(record.msg))
        seen = self._seen.get(key)
        if seen is None or now - seen[0] >= self.window:
            if seen is not None and seen[2]:
                record.msg = f"{record.msg} [{seen[2]} more like this in {self.window:.0f}s not logged]"
            if len(self._seen) >= 1000:  # templates are few; this only bounds a pathological caller
                self._seen.clear()
            self._seen[key] = [now, 1, 0]
            return True
        if seen[1] < self.burst:
            seen[1] += 1
            return True
        seen[2] += 1
        return False
