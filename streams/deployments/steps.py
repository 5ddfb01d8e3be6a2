"""The deployments agent's step: the pure deployment manager fed from ``deployment-manager-feed``.

The manager needs one global view (a league's live games, a canary's samples, all of a deployment's reports),
so its inputs are forwarded into the one-partition feed: ``deployment-events`` (all), ``game-state`` (only
when a game's live/not-live status changes, :class:`LiveStatusChanges`) and ``system-metrics`` (samples with
an error rate, latency or version). The step calls :class:`~streams.deployments.controller.DeploymentController`
and writes the ``deployments`` table (DeploymentState records, key deployment_id) and the ``deployment-context``
table (``games``, ``versions`` and ``samples:<server_id>``); outputs ``deployment-decisions`` and
``deployment-state``. Blocked requests, bake times and timeouts are re-evaluated after every batch (a leader
timer puts a ``tick`` event on the feed every second).

A deployment that becomes blocked (a new block code, expired or rejected), rolled back, failed or completed is
also an Alert on ``alerts`` (:func:`transition_alert`, notified once by the alert router).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from schemas.json_form import to_json
from streams.deployments.controller import DeploymentController, Output
from streams.deployments.manager import DeploymentPolicy
from streams.deployments.validation import validate_deployment_event
from streams.runtime.alerts import event_alert
from streams.runtime.steps import Effects, Input, TableView, Write

FEED = "deployment-manager-feed"
FEED_KEY = b"deployments"
FEED_TARGET = (FEED_KEY, 0)


def event_target(schema: str, record: dict[str, Any]) -> tuple[bytes, int]:
    """Every deployment event goes to the manager; ``InvalidRecord`` (a dead letter) if it breaks a bound."""
    validate_deployment_event(record)
    return FEED_TARGET


def metrics_target(schema: str, sample: dict[str, Any]) -> tuple[bytes, int] | None:
    """Samples that say something about a deployment: an error rate, a latency or a version.

    A sample whose error rate or latency is not a finite non-negative number stays out of the canary's
    statistics; the health agent, the main reader of ``system-metrics``, dead-letters it.
    """
    error_rate, latency = sample.get("error_rate"), sample.get("latency_ms")
    for value in (error_rate, latency):
        if value is not None and not (math.isfinite(value) and value >= 0.0):
            return None
    if error_rate is not None or latency is not None or sample.get("version"):
        return FEED_TARGET
    return None


class LiveStatusChanges:
    """Forwards a game's state only when its live/not-live status changes (this worker's memory: after a
    restart each game's first state is forwarded again, which the manager takes as it is)."""

    def __init__(self) -> None:
        self.live: dict[str, bool] = {}

    def __call__(self, schema: str, game: dict[str, Any]) -> tuple[bytes, int] | None:
        live = game["status"] == "live"
        if self.live.get(game["game_id"]) == live:
            return None
        self.live[game["game_id"]] = live
        return FEED_TARGET


class DeploymentsStep:
    """See the module docstring. The controller is a cache of the tables, rebuilt after a rebalance or a failure."""

    tables = ("deployments", "deployment-context")
    scratch = ()

    def __init__(self, policy: DeploymentPolicy, clock: Callable[[], datetime] = lambda: datetime.now(UTC)):
        self.policy = policy
        self.clock = clock
        self._controller: DeploymentController | None = None

    def forget(self) -> None:
        self._controller = None

    def controller(self, view: TableView) -> DeploymentController:
        if self._controller is None:
            ctl = DeploymentController(self.policy)
            ctl.deployments = {k: to_json("DeploymentState", v) for k, v in view.items("deployments")}
            context = dict(view.items("deployment-context"))
            ctl.games = dict(context.get("games") or {})
            ctl.versions = dict(context.get("versions") or {})
            ctl.samples = {k.split(":", 1)[1]: list(v) for k, v in context.items() if k.startswith("samples:")}
            self._controller = ctl
        return self._controller

    def apply(self, item: Input, view: TableView) -> Effects:
        sampled = item.record["server_id"] if item.schema == "SystemMetrics" else None
        return self._run(view, lambda ctl, now: ctl.handle(item.schema, item.record, now), sampled)

    def finish(self, view: TableView) -> Effects:
        return self._run(view, lambda ctl, now: ctl.tick(now), None)

    def _run(
        self, view: TableView, call: Callable[[DeploymentController, datetime], Output], sampled: str | None
    ) -> Effects:
        ctl = self.controller(view)
        games_before, versions_before = dict(ctl.games), dict(ctl.versions)
        try:
            out = call(ctl, self.clock())
        except Exception:
            self._controller = None  # it may be half changed: rebuilt from the tables, without this input
            raise
        writes: list[Write] = []
        if ctl.games != games_before:
            writes.append(("deployment-context", "games", 0, dict(ctl.games)))
        if ctl.versions != versions_before:
            writes.append(("deployment-context", "versions", 0, dict(ctl.versions)))
        if sampled is not None and sampled in ctl.samples:
            writes.append(("deployment-context", f"samples:{sampled}", 0, list(ctl.samples[sampled])))
        outputs = [("deployment-decisions", decision) for decision in out.decisions]
        before = {}
        for state in out.states:
            key = state["deployment_id"]
            previous = before.get(key) or view.get("deployments", key)
            writes.append(("deployments", key, 0, state))
            outputs.append(("deployment-state", state))
            alert = transition_alert(previous, state)
            if alert is not None:
                outputs.append(("alerts", alert))
            before[key] = state
        return writes, outputs


# phase -> (alert name, severity, what the operator should do)
TRANSITIONS = {
    "rolled_back": ("DeploymentRolledBack", "critical", "Look at the canary verdict; fix the version and redeploy."),
    "failed": ("DeploymentFailed", "critical", "A rollback failed: check the servers' versions by hand."),
    "completed": ("DeploymentCompleted", "info", ""),
    "expired": ("DeploymentBlocked", "warning", "Request it again in a deploy window, or with force."),
    "rejected": ("DeploymentBlocked", "warning", "Fix the request and send it again."),
    "waiting": ("DeploymentBlocked", "warning", "It is re-evaluated; cancel it or wait for the block to end."),
}


def transition_alert(previous: dict[str, Any] | None, state: dict[str, Any]) -> dict[str, Any] | None:
    """The Alert of a deployment's transition the operators must hear about, or None.

    Blocked: a waiting deployment with a new block code (not each re-evaluation of the same block)."""
    phase, code = state["phase"], state.get("block_code")
    spec = TRANSITIONS.get(phase)
    if spec is None or (phase == "waiting" and not code):
        return None
    if previous is not None and previous["phase"] == phase and previous.get("block_code") == code:
        return None
    name, severity, suggestion = spec
    key = state["deployment_id"]
    return event_alert(
        name,
        severity,
        f"deployment {key} of {state['version']}: {phase}: {state['reason']}",
        state["updated_at"],
        f"{key}|{phase}|{code or ''}",
        league=state.get("league"),
        suggestion=suggestion,
        labels={"deployment_id": key},
    )
