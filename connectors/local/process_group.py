"""A supervised group of child processes with prefixed output and a clean shutdown (``wirereport up``)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field

COLORS = ("\033[36m", "\033[33m", "\033[35m", "\033[32m", "\033[34m", "\033[31m")
RESET = "\033[0m"


@dataclass
class Child:
    name: str
    argv: list[str]
    critical: bool = True  # the group stops if a critical child exits
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen | None = None
    recent: deque[str] = field(default_factory=lambda: deque(maxlen=200))

    def printed(self, text: str) -> bool:
        """Whether one of the child's recent output lines contains ``text``."""
        return any(text in line for line in list(self.recent))


class ProcessGroup:
    """Starts children, prefixes their output lines with ``[name]``, stops them all on exit or Ctrl-C."""

    def __init__(self, color: bool | None = None):
        self.children: list[Child] = []
        self.color = sys.stdout.isatty() if color is None else color
        self._lock = threading.Lock()
        self.failed: Child | None = None

    def say(self, name: str, line: str) -> None:
        prefix = f"[{name}]".ljust(14)
        if self.color:
            index = sum(map(ord, name)) % len(COLORS)
            prefix = f"{COLORS[index]}{prefix}{RESET}"
        with self._lock:
            print(f"{prefix} {line}", flush=True)

    def start(self, child: Child) -> Child:
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **child.env}
        child.process = subprocess.Popen(
            child.argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, start_new_session=True
        )
        self.children.append(child)
        threading.Thread(target=self._pump, args=(child,), daemon=True).start()
        return child

    def _pump(self, child: Child) -> None:
        assert child.process and child.process.stdout
        for line in child.process.stdout:
            child.recent.append(line)
            self.say(child.name, line.rstrip())

    def wait_for(self, child: Child, predicate, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if child.process and child.process.poll() is not None:
                raise RuntimeError(f"{child.name} exited with status {child.process.returncode} before {what}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{child.name}: {what} did not happen within {timeout:.0f}s")
            time.sleep(0.1)

    def check(self) -> Child | None:
        """Return the first critical child that has exited, if any."""
        for child in self.children:
            if child.critical and child.process and child.process.poll() is not None:
                self.failed = child
                return child
        return None

    def stop(self, timeout: float = 15.0) -> None:
        """SIGINT every child (newest first), wait, then SIGKILL what is left; no process stays behind."""
        for child in reversed(self.children):
            if child.process and child.process.poll() is None:
                self.say("up", f"stopping {child.name}")
                _signal_group(child.process, signal.SIGINT)
                try:
                    child.process.wait(timeout)
                except subprocess.TimeoutExpired:
                    self.say("up", f"{child.name} did not stop in {timeout:.0f}s; killing it")
                    _signal_group(child.process, signal.SIGKILL)
                    child.process.wait(5)


def _signal_group(process: subprocess.Popen, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)
