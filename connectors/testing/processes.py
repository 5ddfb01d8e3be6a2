"""Run ``wirereport`` subcommands as real processes, as a user would, and wait for what they do."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def wait_until(
    predicate: Callable[[], Any], timeout: float = 30.0, interval: float = 0.1, message: str | Callable[[], str] = ""
) -> Any:
    """Poll ``predicate`` until it returns a truthy value (returned) or raise ``TimeoutError``.

    ``message`` may be a function, called only on timeout (e.g. to include a process's output).
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            text = message() if callable(message) else message
            raise TimeoutError(text or f"condition not met in {timeout:.0f}s")
        time.sleep(interval)


class WirereportProcess:
    """``python -m connectors.cli.main ARGS`` in its own process group, output captured in memory."""

    def __init__(self, args: list[str], bootstrap: str | None = None, env: dict[str, str] | None = None, cwd=None):
        self.args = args
        self.env = {**os.environ, **(env or {})}
        if bootstrap:
            self.env["WIREREPORT_KAFKA_BOOTSTRAP"] = bootstrap
        self.env.setdefault("WIREREPORT_DATA_DIR", tempfile.mkdtemp(prefix="wirereport-"))
        self.env["PYTHONUNBUFFERED"] = "1"
        self.cwd = cwd
        self.process: subprocess.Popen | None = None
        self._lines: list[str] = []
        self._reader: threading.Thread | None = None

    @property
    def data_dir(self) -> Path:
        return Path(self.env["WIREREPORT_DATA_DIR"])

    def start(self) -> WirereportProcess:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "connectors.cli.main", *self.args],
            env=self.env,
            cwd=self.cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        return self

    def _read(self) -> None:
        assert self.process and self.process.stdout
        for line in self.process.stdout:
            self._lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self._lines)

    def wait_for_output(self, text: str, timeout: float = 60.0) -> None:
        def seen():
            if self.process and self.process.poll() is not None and text not in self.output:
                raise RuntimeError(f"wirereport {' '.join(self.args)} exited early:\n{self.output[-3000:]}")
            return text in self.output

        try:
            wait_until(seen, timeout, message=f"{text!r} not printed in {timeout:.0f}s")
        except TimeoutError as exc:
            raise TimeoutError(f"{exc}; output so far:\n{self.output[-3000:]}") from None

    def signal(self, sig: int) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, sig)

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGINT (as Ctrl-C), then SIGKILL if it does not exit in time; return the exit status."""
        if not self.process:
            return None
        if self.process.poll() is None:
            self.signal(signal.SIGINT)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        if self._reader:
            self._reader.join(2)
        return self.process.returncode

    def kill(self) -> None:
        """SIGKILL the whole process group (a crash)."""
        self.signal(signal.SIGKILL)
        if self.process:
            self.process.wait(10)

    def __enter__(self) -> WirereportProcess:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
