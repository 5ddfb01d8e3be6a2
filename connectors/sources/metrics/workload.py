"""What ``wirereport agent`` reads besides psutil: the league's workload (a counter or a replayed trace) and
the league's worker processes on this host.

A workload reading is a rate, finite and >= 0, or None (no usable rate: the agent sends no sample that tick).
The first counter reading only starts the count; a bad one (missing file, not a number, NaN, infinite,
negative) or a counter that went back is skipped and logged, one line at most once a minute per kind.
"""

from __future__ import annotations

import logging
import math
import os
import re
import shlex
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psutil

from connectors.exceptions import InputError

log = logging.getLogger(__name__)


class ThrottledWarning:
    """Log a warning of a kind at most once per ``every`` seconds, with the count of those held back."""

    def __init__(self, every: float = 60.0, clock: Callable[[], float] = time.monotonic, logger: logging.Logger = log):
        self.every = every
        self.clock = clock
        self.log = logger
        self._last: dict[str, float] = {}
        self._held: dict[str, int] = {}

    def __call__(self, kind: str, message: str) -> bool:
        """Log ``message`` unless a ``kind`` warning was logged less than ``every`` s ago; True if logged."""
        now = self.clock()
        last = self._last.get(kind)
        if last is not None and now - last < self.every:
            self._held[kind] = self._held.get(kind, 0) + 1
            return False
        held = self._held.pop(kind, 0)
        self._last[kind] = now
        self.log.warning("%s%s", message, f" ({held} more like it since the last warning)" if held else "")
        return True


@dataclass
class Reading:
    """One workload reading: the rate (None = no usable rate: no sample this tick), the time it stands for
    (None = now), the seconds it spans (None = since the previous sample) and why there is no rate."""

    workload: float | None
    observed_at: datetime | None = None
    interval: float | None = None
    skipped: str | None = None


class BadReading(ValueError):
    """A counter could not be read, or did not hold a finite non-negative number."""


def parse_counter(text: str, source: str) -> float:
    """The counter value of ``text``: a finite number >= 0, else ``BadReading`` naming ``source``."""
    text = text.strip()
    try:
        value = float(text)
    except ValueError:
        raise BadReading(f"{source}: {text[:40]!r} is not a number") from None
    if not math.isfinite(value) or value < 0:
        raise BadReading(f"{source}: counter {text[:40]!r} is not a finite non-negative number")
    return value


class CounterWorkload:
    """Work units per second from a counter the league server increments (a file, or a command's output).

    The first reading only starts the count (no rate yet); a reading below the previous one (the league
    server restarted its counter) starts it again. A bad reading (``BadReading``) is skipped and the next good
    one is a rate over the time since the last good reading.
    """

    def __init__(
        self,
        read_counter: Callable[[], float],
        clock: Callable[[], float] = time.monotonic,
        warn: ThrottledWarning | None = None,
    ):
        self.read_counter = read_counter
        self.clock = clock
        self.warn = warn or ThrottledWarning()
        self._last: tuple[float, float] | None = None

    def __call__(self) -> Reading:
        now = self.clock()
        try:
            value = self.read_counter()
        except BadReading as exc:
            self.warn("bad-reading", f"workload {exc}; no sample this time")
            return Reading(None, skipped=str(exc))
        last, self._last = self._last, (now, value)
        if last is None:
            return Reading(None, skipped="first counter reading, no rate yet (the first sample follows)")
        if value < last[1]:
            self.warn("reset", f"workload counter went back from {last[1]:g} to {value:g}; no sample this time")
            return Reading(None, skipped=f"counter went back from {last[1]:g} to {value:g}")
        if now <= last[0]:
            return Reading(None, skipped="no time passed since the previous reading")
        return Reading((value - last[1]) / (now - last[0]), interval=now - last[0])


def counter_file(path: Path) -> Callable[[], float]:
    """Read the counter in ``path`` (``BadReading`` if missing, empty, not a number, NaN, inf or negative)."""

    def read() -> float:
        try:
            text = path.read_text()
        except FileNotFoundError:
            raise BadReading(f"{path}: no such file") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise BadReading(f"{path}: cannot read: {exc}") from None
        return parse_counter(text, str(path))

    return read


def counter_command(command: str) -> Callable[[], float]:
    """Run ``command``; its output's last word is the counter (``BadReading`` if it fails or is no count)."""
    try:
        args = shlex.split(command)
    except ValueError as exc:
        raise InputError(f"workload command {command!r}: {exc}") from None
    if not args:
        raise InputError("the workload command is empty")

    def read() -> float:
        try:
            out = subprocess.run(args, capture_output=True, text=True, timeout=10, check=True).stdout
        except (OSError, subprocess.SubprocessError) as exc:
            raise BadReading(f"command {args[0]} failed: {exc}") from None
        words = out.split()
        return parse_counter(words[-1] if words else "", f"command {args[0]}")

    return read


def replay_readings(path: Path, league: str) -> Iterator[Reading]:
    """The workloads of a LoadSample trace (only ``league``'s), with the trace's own timestamps.

    A bad line, or a ``league`` sample not later than the previous one, raises ``InputError`` ``FILE:LINE: ...``.
    """
    from connectors.jsonl import read_jsonl
    from connectors.sources.importers.load_io import parse_sample

    previous = None
    for number, obj in read_jsonl(path):
        try:
            if isinstance(obj, Exception):
                raise obj
            sample = parse_sample(obj)
            if sample["league"] == league and previous is not None and sample["t"] <= previous:
                raise ValueError(f"{league} sample at {sample['observed_at']} is not after the previous one")
        except ValueError as exc:
            raise InputError(f"{path}:{number}: {exc}") from None
        if sample["league"] != league:
            continue
        interval = None if previous is None else sample["t"] - previous
        previous = sample["t"]
        yield Reading(sample["workload"], datetime.fromtimestamp(sample["t"], UTC), interval)


def check_replay(path: Path, league: str) -> int:
    """Validate a whole replay trace up front; return its number of ``league`` samples (``InputError`` if none)."""
    count = sum(1 for _ in replay_readings(path, league))
    if not count:
        raise InputError(f"{path}: no {league} samples to replay")
    return count


# -- worker processes --------------------------------------------------------------------------------
DEFAULT_WORKER_MATCH = r"\bagent-worker\b.*--league[= ]{league}\b"


class WorkerCount:
    """Running worker processes of a league on this host: command lines matching a regex (psutil).

    ``{league}`` in the pattern is replaced by the league; the default matches the workers the local
    scaler starts (``wirereport agent-worker --league L``). Zombies and this process are not counted.
    """

    def __init__(self, league: str, pattern: str = DEFAULT_WORKER_MATCH):
        try:
            self.regex = re.compile(pattern.replace("{league}", re.escape(league)))
        except re.error as exc:
            raise InputError(f"worker match {pattern!r} is not a regular expression: {exc}") from None
        self._own = os.getpid()

    def __call__(self) -> int:
        count = 0
        for proc in psutil.process_iter(["pid", "cmdline", "status"]):
            info = proc.info
            if info["pid"] == self._own or info["status"] == psutil.STATUS_ZOMBIE or not info["cmdline"]:
                continue
            if self.regex.search(" ".join(info["cmdline"])):
                count += 1
        return count
