"""The deployment agent of one league server: applies its ``deployment-decisions`` and reports back.

It reads every partition of ``deployment-decisions`` (an :class:`~connectors.effectors.base.Effector`: offsets are
kept in its own state file under ``settings.data_dir``; undecodable decisions go to ``dead-letters``), keeps the
decisions addressed to its server, applies ``deploy`` and
``rollback`` through an executor (default :class:`GitExecutor`) and answers each with a DeploymentEvent
report on ``deployment-events``. Delivery is at-least-once; the agent deduplicates on ``decision_id``.
Before a deploy it writes down the version it runs (write-ahead), so a rollback after a crash still
knows where to go back to. A new agent (no state file) skips decisions older than the backlog limit
instead of replaying history.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from connectors.effectors.base import Effector, Positions, Record, positions_from_keys, positions_to_keys
from connectors.effectors.deployments.git_executor import ApplyResult
from connectors.effectors.state_file import JsonStateFile

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
        self.file = JsonStateFile(path)
        self.fresh = not self.file.exists()
        data = self.file.load()
        self.offsets: dict[str, int] = data.get("offsets", {})
        self.done: dict[str, str] = data.get("done", {})
        self.journal: dict[str, dict[str, Any]] = data.get("journal", {})

    def save(self) -> None:
        if len(self.done) > DONE_KEPT:
            self.done = dict(list(self.done.items())[-DONE_KEPT:])
        self.file.save({"offsets": self.offsets, "done": self.done, "journal": self.journal})


class DeploymentAgent(Effector):
    """Applies one server's deployment decisions (see the module docstring)."""

    name = "deploy-agent"
    topics = (TOPIC,)
    poll_seconds = 0.3

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
        super().__init__(bootstrap)
        self.group_id = f"wirereport-deploy-agent-{server_id}"
        self.server_id = server_id
        self.executor = executor
        self.state = AgentState(state_path)
        self.clock = clock
        self.echo = echo
        self.not_before = clock() - timedelta(seconds=backlog_seconds) if self.state.fresh else None

    # --- one decision ----------------------------------------------------------------------------------------
    def carry_out(self, decision: dict[str, Any]) -> dict[str, Any] | None:
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

    # --- the effector's hooks ------------------------------------------------------------------------------
    def start_positions(self) -> Positions:
        """Every partition of the decisions topic, from the stored positions (the beginning for new ones)."""
        return positions_from_keys(self.state.offsets, TOPIC)

    def handle(self, records: list[Record]) -> None:
        for record in records:
            decision = record.value
            report = self.carry_out(decision)
            if report is not None:  # acknowledged before the decision counts as done
                self.producer.send(REPORTS, report)
                self.producer.flush()
                self.state.done[decision["decision_id"]] = report["status"]

    def commit(self, positions: Positions) -> None:
        self.state.offsets.update(positions_to_keys(positions, TOPIC))
        self.state.save()

    def on_dead_letter(self, place: str, reason: str) -> None:
        self.echo(f"dead-lettered decision at {place}: {reason}")

    def close(self) -> None:
        super().close()
        self.state.save()
