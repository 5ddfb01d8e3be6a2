"""Runs the pure deployment manager on Kafka (``wirereport deploy manager``), without Faust.

Reads ``deployment-events``, ``game-state`` and ``system-metrics``, feeds each decoded record to a
:class:`~streams.deployments.controller.DeploymentController` with the wall clock as ``now``, ticks it every
second (blocked requests, bake time, timeouts), and sends its decisions to ``deployment-decisions`` and the
changed deployments to ``deployment-state``. It is an :class:`~connectors.effectors.base.Effector`: undecodable
input goes to ``dead-letters``; the controller's snapshot and the consumed offsets are saved together (after the
outputs are flushed) under ``settings.data_dir``: a restart resumes where it stopped; redelivered input yields
the same decision ids.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from connectors.effectors.base import Effector, Positions, Record, positions_from_keys, positions_to_keys
from connectors.effectors.state_file import JsonStateFile
from streams.deployments.controller import DeploymentController, Output
from streams.deployments.manager import DeploymentPolicy

log = logging.getLogger(__name__)
INPUTS = ("deployment-events", "game-state", "system-metrics")


class DeploymentRunner(Effector):
    """The manager's Kafka loop (see the module docstring)."""

    name = "deploy-manager"
    topics = INPUTS
    group_id = "wirereport-deploy-manager"
    tick_seconds = 1.0

    def __init__(
        self,
        bootstrap: str,
        policy: DeploymentPolicy,
        state_path: Path,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        echo: Callable[[str], None] = lambda line: print(line, flush=True),
    ):
        super().__init__(bootstrap)
        self.state_file = JsonStateFile(state_path)
        self.clock = clock
        self.echo = echo
        data = self.state_file.load()
        self.offsets: dict[str, int] = data.get("offsets", {})
        self.controller = DeploymentController.from_snapshot(policy, data.get("controller", {}))
        self._last_tick = 0.0

    def save(self) -> None:
        self.state_file.save({"offsets": self.offsets, "controller": self.controller.snapshot()})

    def publish(self, out: Output) -> None:
        for decision in out.decisions:
            self.producer.send("deployment-decisions", decision)
            self.echo(
                f"decision {decision['action']} {decision['deployment_id']} server={decision['server_id']} "
                f"phase={decision['phase']}: {decision['reason']}"
            )
        for state in out.states:
            self.producer.send("deployment-state", state)
            self.echo(f"deployment {state['deployment_id']} phase={state['phase']}: {state['reason']}")

    # -- the effector's hooks ---------------------------------------------------------------------------
    def start_positions(self) -> Positions:
        """Every partition of the inputs, from the saved positions (the beginning without a state file)."""
        return positions_from_keys(self.offsets)

    def handle(self, records: list[Record]) -> None:
        out = Output()
        for record in records:
            out.extend(self.controller.handle(record.schema, record.value, self.clock()))
        self.publish(out)

    def commit(self, positions: Positions) -> None:
        self.offsets.update(positions_to_keys(positions))
        self.save()

    def tick(self, consumed: int) -> None:
        """Blocked requests, bake time and timeouts: after each batch, and every second while nothing comes."""
        if not consumed and time.monotonic() - self._last_tick < self.tick_seconds:
            return
        self._last_tick = time.monotonic()
        out = self.controller.tick(self.clock())
        self.publish(out)
        if out.decisions or out.states:
            self.producer.flush()
            self.save()

    def close(self) -> None:
        super().close()
        self.save()
