"""League-server supervisor: runs one process, restarts it on ``restart_process`` commands and when it dies.

Consumes ``remediation-commands`` (every partition, filtered on ``server_id``) from the offsets saved in its
state file; a command whose id it has already carried out is ignored (at-least-once delivery), and a
command older than ``max_age`` when first seen is skipped (a fresh supervisor does not replay history).
The child runs in its own process group: a restart is SIGTERM, then SIGKILL after ``stop_timeout``.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer

from connectors.edge import assigned_consumer
from connectors.exceptions import InputError
from schemas.codec import get_codec
from schemas.exceptions import SchemaError

log = logging.getLogger(__name__)
TOPIC = "remediation-commands"
REMEMBERED_IDS = 5000


class Supervisor:
    """See the module docstring."""

    def __init__(
        self,
        bootstrap: str,
        server_id: str,
        command: list[str],
        state_path: Path,
        *,
        process_name: str = "league-server",
        stop_timeout: float = 10.0,
        max_age: float = 600.0,
        echo: Callable[[str], None] = lambda line: print(line, flush=True),
    ):
        if not command:
            raise InputError("no command to supervise: wirereport supervisor --server-id ID -- CMD [ARGS...]")
        self.bootstrap, self.server_id, self.command = bootstrap, server_id, command
        self.state_path, self.process_name = state_path, process_name
        self.stop_timeout, self.max_age, self.echo = stop_timeout, max_age, echo
        data = json.loads(state_path.read_text()) if state_path.exists() else {}
        self.offsets: dict[str, int] = data.get("offsets", {})
        self.done: list[str] = data.get("done", [])
        self._done_set = set(self.done)
        self.child: subprocess.Popen | None = None
        self.restarts = 0
        self._crash_backoff = 1.0

    # -- the child process ------------------------------------------------------------------------------
    def start_child(self) -> None:
        try:
            self.child = subprocess.Popen(self.command, start_new_session=True)
        except OSError as exc:
            raise InputError(f"cannot start {self.command[0]!r}: {exc.strerror or exc}") from None

    def stop_child(self) -> None:
        child, self.child = self.child, None
        if child is None or child.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, self.stop_timeout), (signal.SIGKILL, 10.0)):
            try:
                os.killpg(child.pid, sig)
            except ProcessLookupError:
                return
            try:
                child.wait(wait)
                return
            except subprocess.TimeoutExpired:
                continue

    def restart_child(self, why: str) -> None:
        old = self.child.pid if self.child else None
        self.stop_child()
        self.start_child()
        self.restarts += 1
        self.echo(f"restarted {self.process_name} pid {old} -> {self.child.pid} ({why})")

    # -- commands ---------------------------------------------------------------------------------------
    def save(self) -> None:
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"offsets": self.offsets, "done": self.done[-REMEMBERED_IDS:]}))
        os.replace(tmp, self.state_path)

    def handle(self, cmd: dict[str, Any]) -> bool:
        """Carry out one RemediationCommand; return True if it did something."""
        if cmd["server_id"] != self.server_id:
            return False
        cid = cmd["command_id"]
        if cid in self._done_set:
            self.echo(f"ignored duplicate command {cid} ({cmd['action']})")
            return False
        self.done.append(cid)
        self._done_set.add(cid)
        age = (datetime.now(UTC) - cmd["issued_at"]).total_seconds()
        if age > self.max_age:
            self.echo(f"skipped stale command {cid} ({cmd['action']}, issued {age:.0f}s ago)")
            return True
        target = cmd.get("target")
        if cmd["action"] == "restart_process" and target in (None, self.process_name):
            self.restart_child(f"command {cid}: {cmd['reason']}")
        else:
            self.echo(f"command {cid} {cmd['action']} target={target}: not carried out by the supervisor")
        return True

    def _consumer(self) -> Consumer:
        positions = {(TOPIC, int(p)): offset for p, offset in self.offsets.items()}
        return assigned_consumer(self.bootstrap, [TOPIC], positions, group_id=f"wirereport-supervisor-{self.server_id}")

    def run(self, stop: threading.Event) -> None:
        codec = get_codec()
        consumer = self._consumer()
        self.start_child()
        self.echo(f"supervisor ready: server {self.server_id}, {self.process_name} pid {self.child.pid}")
        try:
            while not stop.is_set():
                messages = consumer.consume(100, 0.2)
                for msg in messages:
                    if msg.error():
                        continue
                    try:
                        _, cmd = codec.decode(msg.value(), ("RemediationCommand",))
                    except SchemaError as exc:
                        log.warning("%s[%d]@%d undecodable: %s", TOPIC, msg.partition(), msg.offset(), exc)
                    else:
                        self.handle(cmd)
                    self.offsets[str(msg.partition())] = msg.offset() + 1
                if messages:
                    self.save()
                self._watch_child()
        finally:
            consumer.close()
            self.stop_child()
            self.save()

    def _watch_child(self) -> None:
        """Restart a child that died on its own, with backoff (1 s doubling to 30 s)."""
        if self.child is None or self.child.poll() is None:
            return
        code = self.child.returncode
        time.sleep(self._crash_backoff)
        self._crash_backoff = min(30.0, self._crash_backoff * 2)
        self.restart_child(f"exited with status {code}")
