"""The deployments step in the in-process harness, and what its forwarders send to the manager."""

from __future__ import annotations

from datetime import timedelta

from connectors.testing import Harness, message
from streams.deployments.steps import FEED, DeploymentsStep, LiveStatusChanges, metrics_target, transition_alert
from tests.unit.streams.deployments.test_manager import POLICY, T0

GAME = {"game_id": "g1", "league": "NBA", "home_team": "BOS", "away_team": "LAL", "home_score": 0, "away_score": 0}


def game_state(status: str) -> dict:
    return {
        **GAME,
        "period": 1,
        "clock_seconds": 0,
        "status": status,
        "last_play_id": "p",
        "last_sequence": 1,
        "plays_seen": 1,
        "updated_at": T0,
    }


def request() -> dict:
    return {
        "event_id": "e-d1",
        "kind": "request",
        "deployment_id": "d1",
        "server_id": "*",
        "league": "NBA",
        "version": "v2",
        "targets": ["s1", "s2"],
        "occurred_at": T0,
    }


def feed() -> list:
    return [
        message(FEED, game_state("live"), "GameState"),
        message(FEED, request(), "DeploymentEvent"),
        message(FEED, game_state("final"), "GameState"),
    ]


def harness() -> Harness:
    return Harness(lambda: DeploymentsStep(POLICY, clock=lambda: T0 + timedelta(minutes=1)), {FEED: None}, batch_size=1)


def decisions(h: Harness) -> list[tuple[str, str, str]]:
    return [(d["decision_id"], d["action"], d["server_id"]) for d in h.outputs_of("deployment-decisions")]


def test_a_request_waits_for_the_live_game_then_deploys_the_canary():
    h = harness().run(feed())
    actions = [(action, server) for _, action, server in decisions(h)]
    assert actions[0][0] == "blocked" and actions[-1] == ("deploy", "s1")
    assert h.tables["deployments"]["d1"]["phase"] == h.outputs_of("deployment-state")[-1]["phase"]
    assert h.tables["deployment-context"]["games"] == {}  # the game is over: nothing live


def test_after_a_crash_the_controller_is_rebuilt_from_the_tables_with_the_same_decision_ids():
    reference = harness().run(feed())
    h = harness().run(feed(), abort_after=[1], outputs_sent_before_abort=False)
    assert h.aborts == 1
    assert decisions(h) == decisions(reference)
    assert h.tables == reference.tables


def test_the_forwarders_send_status_changes_and_telling_samples_only():
    changes = LiveStatusChanges()
    sent = [changes("GameState", game_state(s)) is not None for s in ("live", "live", "final", "final", "live")]
    assert sent == [True, False, True, False, True]
    assert metrics_target("SystemMetrics", {"error_rate": 0.1}) == (b"deployments", 0)
    assert metrics_target("SystemMetrics", {"error_rate": None, "latency_ms": None, "version": None}) is None


def test_a_blocked_deployment_is_alerted_once_per_block():
    h = harness().run([*feed()[:2], message(FEED, request(), "DeploymentEvent"), feed()[2]])
    alerts = h.outputs_of("alerts")
    assert [(a["alertname"], a["severity"], a["labels"]["deployment_id"]) for a in alerts] == [
        ("DeploymentBlocked", "warning", "d1")
    ]
    assert alerts[0]["league"] == "NBA" and alerts[0]["labels"]["notify"] == "once"
    assert "waiting" in alerts[0]["summary"]


def state(phase: str, code: str | None = None) -> dict:
    return {
        "deployment_id": "d1",
        "league": "NBA",
        "version": "v2",
        "phase": phase,
        "reason": f"why {phase}",
        "block_code": code,
        "updated_at": T0,
    }


def test_transitions_the_operators_hear_about():
    assert transition_alert(state("baking"), state("rolled_back"))["alertname"] == "DeploymentRolledBack"
    assert transition_alert(state("rollback"), state("failed"))["severity"] == "critical"
    assert transition_alert(state("rollout"), state("completed"))["alertname"] == "DeploymentCompleted"
    assert transition_alert(None, state("expired"))["alertname"] == "DeploymentBlocked"
    assert transition_alert(state("waiting", "live_game"), state("waiting", "window"))["alertname"] == (
        "DeploymentBlocked"
    )
    # nothing new: the same phase and block again, a phase of no interest, waiting without a block
    assert transition_alert(state("waiting", "live_game"), state("waiting", "live_game")) is None
    assert transition_alert(state("completed"), state("completed")) is None
    assert transition_alert(state("waiting"), state("canary")) is None
    assert transition_alert(None, state("waiting")) is None
    # deterministic: the same transition, the same fingerprint; another one, another fingerprint
    one = transition_alert(state("baking"), state("rolled_back"))
    assert one["fingerprint"] == transition_alert(state("rollout"), state("rolled_back"))["fingerprint"]
    assert one["fingerprint"] != transition_alert(state("rollout"), state("completed"))["fingerprint"]
