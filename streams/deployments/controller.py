"""Everything the deployment manager needs, in one pure object fed with decoded records.

``DeploymentController`` keeps the deployments (DeploymentState JSON forms), the live games (from GameState
records), recent canary samples and running versions per server (from SystemMetrics), and routes each input
to :mod:`streams.deployments.manager`. It does no I/O and reads no clock: the driver (Kafka loop, Faust agent,
backtest, test) passes ``now``. ``snapshot()`` / ``from_snapshot()`` give a JSON-able copy of the whole state.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from schemas.json_form import format_timestamp, from_json
from streams.deployments.canary_analysis import Sample, add_sample, sample_of
from streams.deployments.manager import (
    TERMINAL,
    DeploymentDecision,
    DeploymentPolicy,
    DeploymentState,
    Step,
    evaluate,
    on_report,
    on_request,
    on_rollback_request,
)


@dataclass
class Output:
    """Decisions (DeploymentDecision records) and changed deployments (DeploymentState records) to publish."""

    decisions: list[DeploymentDecision] = field(default_factory=list)
    states: list[dict[str, Any]] = field(default_factory=list)

    def extend(self, other: Output) -> None:
        self.decisions.extend(other.decisions)
        self.states.extend(other.states)


class DeploymentController:
    """The deployment manager's whole state and its input routing (pure)."""

    def __init__(self, policy: DeploymentPolicy):
        self.policy = policy
        self.deployments: dict[str, DeploymentState] = {}
        self.games: dict[str, dict[str, Any]] = {}  # live games only: game_id -> {game_id, league, teams, status}
        self.samples: dict[str, list[Sample]] = {}
        self.versions: dict[str, str] = {}

    # --- state ---------------------------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        return {
            "deployments": self.deployments,
            "games": self.games,
            "samples": self.samples,
            "versions": self.versions,
        }

    @classmethod
    def from_snapshot(cls, policy: DeploymentPolicy, data: Mapping[str, Any]) -> DeploymentController:
        ctl = cls(policy)
        ctl.deployments = dict(data.get("deployments", {}))
        ctl.games = dict(data.get("games", {}))
        ctl.samples = {k: list(v) for k, v in data.get("samples", {}).items()}
        ctl.versions = dict(data.get("versions", {}))
        return ctl

    def active(self) -> list[DeploymentState]:
        return [d for d in self.deployments.values() if d["phase"] not in TERMINAL]

    def busy(self) -> dict[str, str]:
        """Servers of deployments that have started and not finished: server id -> deployment id."""
        return {t: d["deployment_id"] for d in self.active() if d["phase"] != "waiting" for t in d["targets"]}

    # --- inputs --------------------------------------------------------------------------------------------
    def handle(self, schema: str, record: Mapping[str, Any], now: datetime) -> Output:
        """Apply one decoded record (DeploymentEvent, GameState or SystemMetrics)."""
        if schema == "DeploymentEvent":
            return self._on_event(record, now)
        if schema == "GameState":
            return self._on_game(record, now)
        if schema == "SystemMetrics":
            return self._on_metrics(record, now)
        return Output()

    def tick(self, now: datetime) -> Output:
        """Re-evaluate every active deployment (blocked requests, bake time, timeouts)."""
        out = Output()
        for dep in self.active():
            out.extend(self._evaluate(dep, now))
        return out

    def _apply(self, step: Step) -> Output:
        if step.state is None or not step.changed:
            return Output()
        self.deployments[step.state["deployment_id"]] = step.state
        return Output(list(step.decisions), [from_json("DeploymentState", step.state)])

    def _evaluate(self, dep: DeploymentState, now: datetime) -> Output:
        return self._apply(evaluate(dep, now, self.policy, **self._context()))

    def _context(self) -> dict[str, Any]:
        """What the manager's pure functions see besides the deployment: live games, samples, versions, busy servers."""
        return {
            "live_games": self.games.values(),
            "samples": self.samples,
            "versions": self.versions,
            "busy": self.busy(),
        }

    def _on_event(self, event: Mapping[str, Any], now: datetime) -> Output:
        kind = event.get("kind")
        current = self.deployments.get(event["deployment_id"])
        if kind == "request":
            return self._apply(on_request(current, event, now, self.policy, **self._context()))
        if kind == "rollback":
            return self._apply(on_rollback_request(current, event, now))
        if kind == "report":
            if event.get("status") in ("applied", "rolled_back") and event.get("version"):
                self.versions[event["server_id"]] = event["version"]
            out = self._apply(on_report(current, event, now))
            dep = self.deployments.get(event["deployment_id"])
            if dep is not None and dep["phase"] == "baking":  # the canary may already have its samples
                out.extend(self._evaluate(dep, now))
            return out
        return Output()

    def _on_game(self, game: Mapping[str, Any], now: datetime) -> Output:
        game_id = str(game["game_id"])
        was_live = game_id in self.games
        if game.get("status") == "live":
            self.games[game_id] = {
                "game_id": game_id,
                "league": game.get("league"),
                "home_team": game.get("home_team"),
                "away_team": game.get("away_team"),
                "status": "live",
                "updated_at": format_timestamp(game["updated_at"]) if game.get("updated_at") else None,
            }
        else:
            self.games.pop(game_id, None)
        if was_live == (game_id in self.games):
            return Output()
        out = Output()
        for dep in self.active():
            if dep["phase"] in ("waiting", "rollout"):
                out.extend(self._evaluate(dep, now))
        return out

    def _on_metrics(self, metrics: Mapping[str, Any], now: datetime) -> Output:
        server = metrics["server_id"]
        horizon_ms = int((self.policy.baseline_seconds + self.policy.canary_timeout_seconds + 600) * 1000)
        self.samples[server] = add_sample(self.samples.get(server, []), sample_of(metrics), horizon_ms)
        if metrics.get("version"):
            self.versions[server] = metrics["version"]
        out = Output()
        for dep in self.active():
            if dep["phase"] == "baking" and dep["canary_server"] == server:
                out.extend(self._evaluate(dep, now))
        return out
