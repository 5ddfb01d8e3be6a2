"""The deployment agent of one league server: applies its ``deployment-decisions`` and reports back.

It reads every partition of ``deployment-decisions`` (no consumer group: offsets are kept in its own state
file under ``settings.data_dir``), keeps the decisions addressed to its server, applies ``deploy`` and
``rollback`` through an executor (default :class:`GitExecutor`) and answers each with a DeploymentEvent
report on ``deployment-events``. Delivery is at-least-once; the agent deduplicates on ``decision_id``.
Before a deploy it writes down the version it runs (write-ahead), so a rollback after a crash still
knows where to go back to. A new agent (no state file) skips decisions older than the backlog limit
instead of replaying history.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from confluent_kafka import Consumer

from connectors.effectors.deployments.git_executor import ApplyResult
from connectors.kafka.edge import EdgeProducer, assigned_consumer
from schemas.codec import get_codec
from schemas.exceptions import SchemaError

log = logging.getLogger(__name__)
TOPIC = "deployment-decisions"
REPORTS = "deployment-events"
DONE_KEPT = 5000


class Executor(Protocol):
    def current_version(self) -> str | None: ...
    def apply(self, version: str, previous: str | None = None) -> ApplyResult: ...
    def rollback(self, to_version: str, from_version: str | None = None) -> ApplyResult: ...


def report_id(decision_id: str, status: str) -> str:
    return hashlib.sha256(f"report|{decision_id}|{status}".encode()).hexdigest()[:24]


class AgentState:
    """What survives a restart: consumed offsets, decisions done (bounded), and the pre-deploy version journal."""

    def __init__(self, path: Path):
        self.path = path
        self.fresh = not path.exists()
        data = {} if self.fresh else json.loads(path.read_text())
        self.offsets: dict[str, int] = data.get("offsets", {})
        self.done: dict[str, str] = data.get("done", {})
        self.journal: dict[str, dict[str, Any]] = data.get("journal", {})

    def save(self) -> None:
        if len(self.done) > DONE_KEPT:
            self.done = dict(list(self.done.items())[-DONE_KEPT:])
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"offsets": self.offsets, "done": self.done, "journal": self.journal}))
        os.replace(tmp, self.path)


class DeploymentAgent:
    """Applies one server's deployment decisions (see the module docstring)."""

    def __init__(
        self,
        bootstrap: str,
        server_id: str,
        executor: Executor,
        state_path: Path,
        *,
        backlog_seconds: float = 900.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        echo: Callable[[str], None] = lambda line: print(line, flush=True),
    ):
        self.bootstrap = bootstrap
        self.server_id = server_id
        self.executor = executor
        self.state = AgentState(state_path)
        self.clock = clock
        self.echo = echo
        self.not_before = clock() - timedelta(seconds=backlog_seconds) if self.state.fresh else None
        self.codec = get_codec()
        self.producer = EdgeProducer(bootstrap)

    # --- one decision ----------------------------------------------------------------------------------------
    def handle(self, decision: dict[str, Any]) -> dict[str, Any] | None:
        """Apply one decision addressed to this server; return the report to send (None if nothing to do)."""
        did = decision["decision_id"]
        if decision["server_id"] != self.server_id or decision["action"] not in ("deploy", "rollback"):
            return None
        if did in self.state.done:
            log.info("decision %s already done (%s): skipped", did, self.state.done[did])
            return None
        if self.not_before is not None and decision["decided_at"] < self.not_before:
            self.state.done[did] = "stale"
            self.echo(f"skipped stale decision {did} ({decision['action']} {decision['version']})")
            return None
        if decision["action"] == "deploy":
            return self._deploy(decision)
        return self._rollback(decision)

    def _deploy(self, decision: dict[str, Any]) -> dict[str, Any]:
        dep = decision["deployment_id"]
        entry = self.state.journal.get(dep)
        if entry is None:  # write-ahead: where we were before this deployment touched anything
            entry = {"previous_version": self.executor.current_version(), "version": decision["version"]}
            self.state.journal[dep] = entry
            self.state.save()
        result = self.executor.apply(decision["version"], entry["previous_version"])
        status = "applied" if result.ok else "failed"
        self.echo(f"{status} {decision['version']} on {self.server_id} ({dep}): {result.detail}")
        return self._report(decision, status, result)

    def _rollback(self, decision: dict[str, Any]) -> dict[str, Any]:
        dep = decision["deployment_id"]
        entry = self.state.journal.get(dep)
        target = (entry or {}).get("previous_version") or decision.get("previous_version")
        current = self.executor.current_version()
        if entry is None and current != decision["version"]:
            result = ApplyResult(
                True, current, None, f"not running {decision['version']} (at {current}): nothing to undo"
            )
        elif target is None:
            result = ApplyResult(False, current, None, "previous version unknown: cannot roll back")
        elif current == target:
            result = ApplyResult(True, current, decision["version"], f"already at {target}")
        else:
            result = self.executor.rollback(target, current)
        status = "rolled_back" if result.ok else "rollback_failed"
        self.echo(f"{status} {dep} on {self.server_id}: {result.detail}")
        return self._report(decision, status, result)

    def _report(self, decision: dict[str, Any], status: str, result: ApplyResult) -> dict[str, Any]:
        return {
            "event_id": report_id(decision["decision_id"], status),
            "kind": "report",
            "deployment_id": decision["deployment_id"],
            "server_id": self.server_id,
            "league": decision.get("league"),
            "version": result.version,
            "previous_version": result.previous_version,
            "targets": [],
            "strategy": "canary",
            "force": False,
            "requested_by": f"deploy-agent:{self.server_id}",
            "status": status,
            "decision_id": decision["decision_id"],
            "detail": result.detail[:1000],
            "occurred_at": self.clock(),
        }

    # --- the loop ----------------------------------------------------------------------------------------------
    def _consumer(self) -> Consumer:
        """Every partition of the decisions topic, from the stored positions (the beginning for new ones)."""
        start = {(TOPIC, int(p)): offset for p, offset in self.state.offsets.items()}
        return assigned_consumer(self.bootstrap, [TOPIC], start, group_id=f"wirereport-deploy-agent-{self.server_id}")

    def run(self, stop: threading.Event, on_ready: Callable[[], None] | None = None) -> None:
        """Consume and apply decisions until ``stop`` is set."""
        consumer = self._consumer()
        if on_ready:
            on_ready()
        try:
            while not stop.is_set():
                msg = consumer.poll(0.3)
                if msg is None:
                    continue
                if msg.error():
                    log.warning("consume error: %s", msg.error().str())
                    continue
                self._process(msg)
        finally:
            consumer.close()
            self.producer.flush()
            self.state.save()

    def _process(self, msg) -> None:
        try:
            _, decision = self.codec.decode(msg.value(), ("DeploymentDecision",))
        except SchemaError as exc:
            self.echo(f"undecodable decision at {TOPIC}[{msg.partition()}]@{msg.offset()}: {exc}")
            decision = None
        report = self.handle(decision) if decision is not None else None
        if report is not None:
            self.producer.send(REPORTS, report)
            self.producer.flush()
            self.state.done[decision["decision_id"]] = report["status"]
        self.state.offsets[str(msg.partition())] = msg.offset() + 1
        if report is not None or decision is None or decision["server_id"] == self.server_id:
            self.state.save()
