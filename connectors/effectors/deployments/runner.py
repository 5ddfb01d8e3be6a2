"""Runs the pure deployment manager on Kafka (``wirereport deploy manager``), without Faust.

Reads ``deployment-events``, ``game-state`` and ``system-metrics``, feeds each decoded record to a
:class:`~streams.deployments.controller.DeploymentController` with the wall clock as ``now``, ticks it every
second (blocked requests, bake time, timeouts), and sends its decisions to ``deployment-decisions`` and the
changed deployments to ``deployment-state``. Undecodable input goes to ``dead-letters``. The controller's
snapshot and the consumed offsets are saved together (after the outputs are flushed) under
``settings.data_dir``: a restart resumes where it stopped; redelivered input yields the same decision ids.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from confluent_kafka import Consumer

from connectors.kafka.edge import EdgeProducer, assigned_consumer
from schemas.codec import get_codec
from schemas.exceptions import SchemaError
from streams.deployments.controller import DeploymentController, Output
from streams.deployments.manager import DeploymentPolicy
from streams.topics import topic

log = logging.getLogger(__name__)
INPUTS = ("deployment-events", "game-state", "system-metrics")


class DeploymentRunner:
    """The manager's Kafka loop (see the module docstring)."""

    def __init__(
        self,
        bootstrap: str,
        policy: DeploymentPolicy,
        state_path: Path,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        echo: Callable[[str], None] = lambda line: print(line, flush=True),
    ):
        self.bootstrap = bootstrap
        self.state_path = state_path
        self.clock = clock
        self.echo = echo
        self.codec = get_codec()
        data = json.loads(state_path.read_text()) if state_path.exists() else {}
        self.offsets: dict[str, int] = data.get("offsets", {})
        self.controller = DeploymentController.from_snapshot(policy, data.get("controller", {}))
        self.producer = EdgeProducer(bootstrap)

    def save(self) -> None:
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"offsets": self.offsets, "controller": self.controller.snapshot()}))
        os.replace(tmp, self.state_path)

    def _consumer(self) -> Consumer:
        """Every partition of the inputs, from the saved positions (the beginning without a state file)."""
        start = {(name, int(p)): offset for key, offset in self.offsets.items() for name, p in [key.rsplit(":", 1)]}
        return assigned_consumer(self.bootstrap, list(INPUTS), start, group_id="wirereport-deploy-manager")

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

    def _dead_letter(self, msg, reason: str) -> None:
        self.producer.dead_letter(msg, reason, "deploy-manager")

    def step(self, messages) -> bool:
        """Feed a batch of messages (and a tick) to the controller and publish; True if anything changed."""
        out = Output()
        for msg in messages:
            if msg.error():
                log.warning("consume error: %s", msg.error().str())
                continue
            name = msg.topic()
            try:
                schema, record = self.codec.decode(msg.value(), topic(name).value_schemas)
            except SchemaError as exc:
                self._dead_letter(msg, str(exc))
            else:
                out.extend(self.controller.handle(schema, record, self.clock()))
            self.offsets[f"{name}:{msg.partition()}"] = msg.offset() + 1
        out.extend(self.controller.tick(self.clock()))
        self.publish(out)
        return bool(messages) or bool(out.decisions) or bool(out.states)

    def run(self, stop: threading.Event, on_ready: Callable[[], None] | None = None) -> None:
        consumer = self._consumer()
        if on_ready:
            on_ready()
        last_tick = 0.0
        try:
            while not stop.is_set():
                messages = consumer.consume(500, 0.2)
                if not messages and time.monotonic() - last_tick < 1.0:
                    continue
                last_tick = time.monotonic()
                if self.step(messages):
                    self.producer.flush()
                    self.save()
        finally:
            consumer.close()
            self.producer.flush()
            self.save()
