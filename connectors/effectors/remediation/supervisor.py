"""League-server supervisor: runs one process and carries out the remediation commands of its server.

- ``restart_process``: SIGTERM to the child's process group, SIGKILL after ``stop_timeout``, start again
  (a child that dies on its own is restarted too, with backoff: 1 s doubling to 30 s while it keeps dying
  within ``stable_seconds`` of its start, back to 1 s once it had run that long -- a deploy's restart command
  may stop it on purpose, and each deploy must not leave the server down longer than the one before);
- ``shed_load``: runs the configured shed-load command (env ``WIREREPORT_SHED_FRACTION``, ``_SERVER_ID``,
  ``_COMMAND_ID``, ``_CHILD_PID``), else sends the configured signal (default SIGUSR1) to the child, which
  should drop low-priority work (a child without a handler for it dies and is restarted);
- ``request_scale_up``: produces a LeagueEvent ``remediation_scale_up`` (multiplier, duration; id from the
  command id) to ``league-events``, which the scaling agent applies; kept and retried until acknowledged;
- ``escalate``: logged (the health agent has raised the RemediationEscalated alert for humans).

Consumes ``remediation-commands`` (every partition, filtered on ``server_id``) from the offsets saved in its
state file (an :class:`~connectors.effectors.base.Effector`; undecodable commands go to ``dead-letters``); a
command whose id it has already carried out is ignored (at-least-once delivery), and a command older than
``max_age`` when first seen is skipped (a fresh supervisor does not replay history). Kafka being down does not
stop it supervising: scale-up requests wait in its state file until the broker acknowledges them.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from connectors.effectors.base import Effector, Positions, Record, positions_from_keys, positions_to_keys
from connectors.effectors.state_file import JsonStateFile
from connectors.exceptions import BrokerUnavailable, InputError
from connectors.kafka.edge import EdgeProducer
from schemas.json_form import from_json, to_json
from streams.health.remediation import scale_up_event

log = logging.getLogger(__name__)
TOPIC = "remediation-commands"
REMEMBERED_IDS = 5000


class Supervisor(Effector):
    """See the module docstring."""

    name = "supervisor"
    topics = (TOPIC,)
    batch_size = 100

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
        shed_signal: int = signal.SIGUSR1,
        shed_command: list[str] | None = None,
        league: str | None = None,
        scale_up_multiplier: float = 1.5,
        scale_up_duration: int = 900,
        stable_seconds: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if not command:
            raise InputError("no command to supervise: wirereport supervisor --server-id ID -- CMD [ARGS...]")
        super().__init__(bootstrap)
        self.group_id = f"wirereport-supervisor-{server_id}"
        self.server_id, self.command = server_id, command
        self.state_file, self.process_name = JsonStateFile(state_path), process_name
        self.stop_timeout, self.max_age, self.echo = stop_timeout, max_age, echo
        data = self.state_file.load()
        self.positions: Positions = positions_from_keys(data.get("offsets", {}), TOPIC)
        self.done: list[str] = data.get("done", [])
        self._done_set = set(self.done)
        self.unsent: list[dict[str, Any]] = [from_json("LeagueEvent", e) for e in data.get("unsent_events", [])]
        self.shed_signal, self.shed_command, self.league = signal.Signals(shed_signal), shed_command, league
        self.scale_up_multiplier, self.scale_up_duration = scale_up_multiplier, scale_up_duration
        self.child: subprocess.Popen | None = None
        self.restarts = 0
        self._crash_backoff = 1.0
        self.stable_seconds, self._clock, self._sleep = stable_seconds, clock, sleep
        self._started_at = 0.0
        self._events_producer: EdgeProducer | None = None  # its own: a broker outage must not stop supervising
        self._retry_at = 0.0

    # -- the child process ------------------------------------------------------------------------------
    def start_child(self) -> None:
        try:
            self.child = subprocess.Popen(self.command, start_new_session=True)
        except OSError as exc:
            raise InputError(f"cannot start {self.command[0]!r}: {exc.strerror or exc}") from None
        self._started_at = self._clock()

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
        self.state_file.save(
            {
                "offsets": positions_to_keys(self.positions, TOPIC),
                "done": self.done[-REMEMBERED_IDS:],
                "unsent_events": [to_json("LeagueEvent", e) for e in self.unsent],
            }
        )

    def carry_out(self, cmd: dict[str, Any]) -> bool:
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
        target, action = cmd.get("target"), cmd["action"]
        if action == "restart_process" and target in (None, self.process_name):
            self.restart_child(f"command {cid}: {cmd['reason']}")
        elif action == "shed_load" and target in (None, self.process_name):
            self.shed_load(cmd)
        elif action == "request_scale_up":
            self.request_scale_up(cmd)
        elif action == "escalate":
            log.error("ESCALATED command %s on %s: %s (a human must investigate)", cid, self.server_id, cmd["reason"])
        else:
            self.echo(f"command {cid} {action} target={target}: not carried out by the supervisor")
        return True

    def shed_load(self, cmd: dict[str, Any]) -> None:
        """Run the shed-load command, or signal the child, to drop a fraction of low-priority work."""
        cid, fraction = cmd["command_id"], (cmd.get("parameters") or {}).get("fraction", "")
        pid = self.child.pid if self.child is not None and self.child.poll() is None else None
        if self.shed_command:
            env = {
                **os.environ,
                "WIREREPORT_SHED_FRACTION": fraction,
                "WIREREPORT_SERVER_ID": self.server_id,
                "WIREREPORT_COMMAND_ID": cid,
                "WIREREPORT_CHILD_PID": str(pid or ""),
            }
            try:
                done = subprocess.run(self.shed_command, env=env, timeout=60, check=False)
            except (OSError, subprocess.TimeoutExpired) as exc:
                self.echo(f"shed load failed for command {cid}: {self.shed_command[0]}: {exc}")
                return
            self.echo(f"shed load: ran {self.shed_command[0]} (exit {done.returncode}) for command {cid}")
        elif pid is None:
            self.echo(f"shed load skipped for command {cid}: {self.process_name} is not running")
        else:
            try:
                os.kill(pid, self.shed_signal)
            except OSError as exc:
                self.echo(f"shed load failed for command {cid}: cannot signal pid {pid}: {exc.strerror or exc}")
                return
            self.echo(
                f"shed load: sent {self.shed_signal.name} to {self.process_name} pid {pid}"
                f" (fraction {fraction or '?'}, command {cid})"
            )

    def request_scale_up(self, cmd: dict[str, Any]) -> None:
        """Produce the LeagueEvent of a scale-up request (kept for a retry while the broker is down)."""
        cid = cmd["command_id"]
        league = (cmd.get("parameters") or {}).get("league") or self.league
        if not league:
            self.echo(f"cannot request a scale-up for command {cid}: league unknown (use --league)")
            return
        event = scale_up_event(cmd, league, self.scale_up_multiplier, self.scale_up_duration)
        self.unsent.append(event)
        self.echo(
            f"requested scale-up of {league} x{self.scale_up_multiplier:g} for {self.scale_up_duration}s"
            f" (event {event['event_id']}, command {cid})"
        )
        self.send_events()

    def send_events(self) -> None:
        """Produce the unsent LeagueEvents; keep them if the broker does not acknowledge."""
        if not self.unsent:
            return
        if self._events_producer is None:
            self._events_producer = EdgeProducer(self.bootstrap, **{"message.timeout.ms": 10000})
        for event in self.unsent:
            self._events_producer.send("league-events", event, schema="LeagueEvent")
        try:
            self._events_producer.flush(15.0)
        except BrokerUnavailable as exc:
            log.warning("%d scale-up request(s) not delivered yet: %s", len(self.unsent), exc)
            self._retry_at = time.monotonic() + 5.0
            return
        self.unsent = []

    # -- the effector's hooks ---------------------------------------------------------------------------
    def start_positions(self) -> Positions:
        return dict(self.positions)

    def on_start(self) -> bool:
        self.start_child()
        self.echo(f"supervisor ready: server {self.server_id}, {self.process_name} pid {self.child.pid}")
        return True

    def handle(self, records: list[Record]) -> None:
        for record in records:
            self.carry_out(record.value)

    def commit(self, positions: Positions) -> None:
        self.positions.update(positions)
        self.save()

    def step(self, timeout: float | None = None) -> int:
        """A round of the base loop; a broker outage (dead letters not acknowledged) is logged, not fatal: the
        child stays supervised, and the producer goes on delivering them when the broker is back."""
        try:
            return super().step(timeout)
        except BrokerUnavailable as exc:
            log.warning("supervisor %s: %s", self.server_id, exc)
            self._watch_child()
            return 0

    def tick(self, consumed: int) -> None:
        if self.unsent and not consumed and time.monotonic() >= self._retry_at:
            self.send_events()
            self.save()
        self._watch_child()

    def on_dead_letter(self, place: str, reason: str) -> None:
        self.echo(f"dead-lettered {place}: {reason}")

    def close(self) -> None:
        super().close()
        self.stop_child()
        self.save()

    def _watch_child(self) -> None:
        """Restart a child that died on its own, with backoff (see the module docstring)."""
        if self.child is None or self.child.poll() is None:
            return
        code = self.child.returncode
        if self._clock() - self._started_at >= self.stable_seconds:
            self._crash_backoff = 1.0
        self._sleep(self._crash_backoff)
        self._crash_backoff = min(30.0, self._crash_backoff * 2)
        self.restart_child(f"exited with status {code}")
