"""The health agent's step: ``system-metrics`` samples and heartbeat ticks -> rules -> alerts and remediation.

Per server the ``health`` table holds a HealthState (rule state + remediation state + its partition). A sample
is folded with the pure ``evaluate_sample``; the Alert transitions go through the pure ``remediate_all``. A
``Tick`` (the heartbeat timer) fires ``ServerDown`` for servers past their heartbeat deadline. Each server's
clock is its last ``observed_at`` plus the wall time elapsed since that sample was processed: a server whose
clock is skewed, or a backlog replayed after a restart, does not make a server look down; silence does.
Outputs: ``alerts``, ``remediation-commands``, and once per batch ``server-health`` per changed server.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from streams.health.remediation import RemediationConfig, remediate_all
from streams.health.rules import HealthConfig, check_heartbeat, evaluate_sample, server_health
from streams.runtime.steps import Effects, Input, TableView, Write


def new_remediation_state() -> dict[str, Any]:
    return {"restarts": [], "issued": [], "escalated_at": None, "escalation_open": None}


class ServerClocks:
    """When this worker last processed each server's sample (memory only: after a restart, from then on)."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic):
        self.monotonic = monotonic
        self.processed_at: dict[str, float] = {}

    def seen(self, server_id: str) -> None:
        self.processed_at[server_id] = self.monotonic()

    def now(self, server_id: str, state: dict[str, Any]) -> datetime | None:
        """The server's clock: its last sample time plus the wall time since that sample was processed."""
        if state.get("last_seen") is None:
            return None
        now = self.monotonic()
        since = self.processed_at.setdefault(server_id, now)
        return datetime.fromtimestamp(state["last_seen"] / 1000, UTC) + timedelta(seconds=now - since)


class HealthStep:
    """See the module docstring."""

    tables = ("health",)
    scratch = ()

    def __init__(
        self,
        config: HealthConfig,
        remediation: RemediationConfig,
        monotonic: Callable[[], float] = time.monotonic,
    ):
        self.config = config
        self.remediation = remediation
        self.clocks = ServerClocks(monotonic)

    def apply(self, item: Input, view: TableView) -> Effects:
        if item.schema == "Tick":
            return self.heartbeat(view)
        sample = item.record
        server_id = sample["server_id"]
        state, fired = evaluate_sample(view.get("health", server_id), sample, self.config)
        state, outputs = self.react({**state, "partition": item.partition}, fired)
        self.clocks.seen(server_id)
        return (("health", server_id, item.partition, state),), outputs

    def heartbeat(self, view: TableView) -> Effects:
        """``ServerDown`` for every server past its heartbeat deadline on its own clock."""
        writes: list[Write] = []
        outputs: list[tuple[str, dict]] = []
        for server_id, current in view.items("health"):
            now = self.clocks.now(server_id, current)
            if now is None:
                continue
            state, fired = check_heartbeat(current, now, self.config)
            if fired:
                state, produced = self.react(state, fired)
                writes.append(("health", server_id, state["partition"], state))
                outputs += produced
        return writes, outputs

    def react(self, state: dict[str, Any], alerts: list[dict]) -> tuple[dict[str, Any], list[tuple[str, dict]]]:
        """Remediation of a server's new alerts: the new state and the alerts and commands to send."""
        remediation, commands, escalations = remediate_all(
            state.get("remediation") or new_remediation_state(), alerts, self.remediation
        )
        outputs = [("alerts", alert) for alert in alerts + escalations]
        outputs += [("remediation-commands", command) for command in commands]
        return {**state, "remediation": remediation}, outputs

    def finish(self, view: TableView) -> Effects:
        return (), [
            ("server-health", server_health(state, self.config)) for _, state in view.changes["health"].values()
        ]
