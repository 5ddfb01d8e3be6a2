"""The deployment manager's state machine, driven through the pure controller with an injected clock."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

import pytest

from schemas.codec import get_codec
from streams.deployments.canary_analysis import CanaryPolicy
from streams.deployments.controller import DeploymentController, Output
from streams.deployments.manager import DeploymentPolicy, decision_id
from streams.deployments.safety import parse_windows

T0 = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)  # Monday 10:00 in New York
POLICY = DeploymentPolicy(
    windows=parse_windows("Mon-Sun 09:00-17:00 America/New_York"),
    canary=CanaryPolicy(alpha=0.05, min_samples=10),
    bake_seconds=300,
    canary_timeout_seconds=1800,
    baseline_seconds=3600,
    request_ttl_seconds=86400,
)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


class World:
    """A controller plus helpers that feed it records and check every output against the schemas."""

    def __init__(self, policy: DeploymentPolicy = POLICY):
        self.ctl = DeploymentController(policy)
        self.rnd = random.Random(3)
        self.metric_t = at(-40)

    def feed(self, schema: str, record: dict, now: datetime) -> Output:
        out = self.ctl.handle(schema, record, now)
        self._check(out)
        return out

    def tick(self, now: datetime) -> Output:
        out = self.ctl.tick(now)
        self._check(out)
        return out

    @staticmethod
    def _check(out: Output) -> None:
        codec = get_codec()
        for d in out.decisions:
            codec.validate("DeploymentDecision", d)
        for s in out.states:
            codec.validate("DeploymentState", s)

    def game(self, status: str, now: datetime, league="NBA", game_id="g1") -> Output:
        record = {"game_id": game_id, "league": league, "status": status, "home_team": "BOS", "away_team": "LAL"}
        return self.feed("GameState", record, now)

    def request(self, now, dep="d1", targets=("s1", "s2"), **extra) -> Output:
        event = {
            "event_id": f"e-{dep}",
            "kind": "request",
            "deployment_id": dep,
            "server_id": "*",
            "league": "NBA",
            "version": "v2",
            "targets": list(targets),
            "strategy": "canary",
            "force": False,
            "occurred_at": now,
            **extra,
        }
        return self.feed("DeploymentEvent", event, now)

    def report(self, server, status, now, dep="d1", version="v2", previous="v1") -> Output:
        event = {
            "event_id": f"r-{server}-{status}-{now.isoformat()}",
            "kind": "report",
            "deployment_id": dep,
            "server_id": server,
            "status": status,
            "version": version,
            "previous_version": previous,
            "occurred_at": now,
        }
        return self.feed("DeploymentEvent", event, now)

    def metrics(self, server, n, error, latency, version, start: datetime, step=30) -> list[Output]:
        outs = []
        for i in range(n):
            t = start + timedelta(seconds=step * i)
            rec = {
                "server_id": server,
                "observed_at": t,
                "error_rate": max(0.0, self.rnd.gauss(*error)),
                "latency_ms": self.rnd.gauss(*latency),
                "version": version,
            }
            outs.append(self.feed("SystemMetrics", rec, t))
        return outs

    def phase(self, dep="d1") -> str:
        return self.ctl.deployments[dep]["phase"]

    def servers(self, dep="d1") -> dict[str, str]:
        return {s["server_id"]: s["status"] for s in self.ctl.deployments[dep]["servers"]}


def actions(out: Output) -> list[tuple[str, str]]:
    return [(d["action"], d["server_id"]) for d in out.decisions]


def all_decisions(outs: list[Output]) -> list[tuple[str, str]]:
    return [a for o in outs for a in actions(o)]


@pytest.fixture
def world() -> World:
    w = World()
    w.metrics("s1", 60, (0.005, 0.002), (100, 5), "v1", start=at(-40))  # 30 min baseline on v1
    return w


def to_baking(world: World) -> None:
    assert actions(world.request(at(0))) == [("deploy", "s1")]
    assert actions(world.report("s1", "applied", at(1))) == [("hold", "*")]
    assert world.phase() == "baking"


def test_live_game_blocks_once_then_deploys_the_canary_when_it_ends(world):
    world.game("live", at(-5))
    out = world.request(at(0))
    assert actions(out) == [("blocked", "*")]
    assert out.decisions[0]["decision_id"] == decision_id("d1", "*", "blocked", "live:g1")
    assert world.phase() == "waiting" and "g1" in world.ctl.deployments["d1"]["reason"]
    assert world.tick(at(1)).decisions == []  # still blocked: no repeated decision
    assert world.game("live", at(2)).decisions == []  # an update of the same live game changes nothing
    out = world.game("final", at(3))
    assert actions(out) == [("deploy", "s1")]
    deploy = out.decisions[0]
    assert deploy["canary"] is True and deploy["previous_version"] == "v1" and deploy["version"] == "v2"
    assert deploy["decision_id"] == decision_id("d1", "s1", "deploy", "deploy")
    assert world.servers() == {"s1": "deploying", "s2": "pending"}


def test_a_live_game_whose_feed_went_silent_for_hours_no_longer_blocks(world):
    record = {"game_id": "g1", "league": "NBA", "status": "live", "home_team": "BOS", "away_team": "LAL"}
    world.feed("GameState", {**record, "updated_at": at(-7 * 60)}, at(-7 * 60))  # last update 7 h ago
    assert actions(world.request(at(0))) == [("deploy", "s1")]
    world.feed("GameState", {**record, "game_id": "g2", "updated_at": at(-30)}, at(-30))  # 30 min ago: live
    assert actions(world.request(at(1), dep="d2", targets=("s3",))) == [("blocked", "*")]
    assert "g2" in world.ctl.deployments["d2"]["reason"]


def test_a_request_waits_while_another_deployment_has_its_servers(world):
    world.request(at(0))  # d1: canary on s1, then s2
    out = world.request(at(1), dep="d2", targets=("s2", "s3"))
    assert actions(out) == [("blocked", "*")]
    assert world.ctl.deployments["d2"]["reason"] == "blocked: s2 busy with deployment d1"
    assert actions(world.request(at(1), dep="d3", targets=("s4",))) == [("deploy", "s4")]  # other servers: go
    world.report("s1", "failed", at(2), version="v1")  # d1 ends (rolled back)
    assert world.phase() == "rolled_back"
    assert actions(world.tick(at(3))) == [("deploy", "s2")]


def test_a_game_of_another_league_does_not_block(world):
    world.game("live", at(-5), league="NFL")
    assert actions(world.request(at(0))) == [("deploy", "s1")]


def test_force_deploys_during_a_live_game(world):
    world.game("live", at(-5))
    out = world.request(at(0), force=True)
    assert actions(out) == [("deploy", "s1")]
    assert "forced despite" in out.decisions[0]["reason"]


def test_outside_the_window_waits_for_it_to_open():
    w = World()
    evening = datetime(2026, 11, 23, 23, 0, tzinfo=UTC)  # 18:00 in New York
    out = w.request(evening)
    assert actions(out) == [("blocked", "*")] and "next opens 2026-11-24T09:00:00-05:00" in out.decisions[0]["reason"]
    assert w.tick(datetime(2026, 11, 24, 13, 59, tzinfo=UTC)).decisions == []
    assert actions(w.tick(datetime(2026, 11, 24, 14, 0, tzinfo=UTC))) == [("deploy", "s1")]


def test_blocked_request_expires():
    w = World()
    w.game("live", at(-1))
    w.request(at(0))
    out = w.tick(at(24 * 60 + 1))
    assert actions(out) == [("blocked", "*")] and w.phase() == "expired"
    assert w.tick(at(24 * 60 + 2)).decisions == []


def test_injected_errors_roll_the_canary_back(world):
    to_baking(world)
    outs = world.metrics("s1", 12, (0.10, 0.02), (100, 5), "v2", start=at(1.5))
    decisions = all_decisions(outs)
    assert decisions == [("rollback", "s1")]  # as soon as the evidence is there, before the bake time
    state = world.ctl.deployments["d1"]
    assert state["phase"] == "rolling_back"
    assert state["canary"]["verdict"] == "regression" and state["canary"]["error_rate_p"] < 0.025
    rollback = next(d for o in outs for d in o.decisions)
    assert rollback["previous_version"] == "v1"
    world.report("s1", "rolled_back", at(10), version="v1")
    assert world.phase() == "rolled_back"
    assert world.servers() == {"s1": "rolled_back", "s2": "pending"}  # s2 never touched


def test_healthy_canary_waits_for_the_bake_time_then_rolls_out_and_completes(world):
    to_baking(world)
    outs = world.metrics("s1", 12, (0.005, 0.002), (100, 5), "v2", start=at(1.5), step=10)  # 12 samples in 2 min
    assert all_decisions(outs) == []  # healthy, but baked for < 300 s
    out = world.tick(at(6.1))
    assert actions(out) == [("deploy", "s2")]
    assert out.decisions[0]["canary"] is False
    state = world.ctl.deployments["d1"]
    assert state["phase"] == "rollout" and state["canary"]["verdict"] == "pass"
    assert "healthy" in out.decisions[0]["reason"]
    out = world.report("s2", "applied", at(7))
    assert actions(out) == [("completed", "*")]
    assert world.phase() == "completed" and world.servers() == {"s1": "applied", "s2": "applied"}
    assert world.ctl.deployments["d1"]["finished_at"] is not None


def test_rollout_waits_when_a_game_goes_live_during_the_canary(world):
    to_baking(world)
    world.game("live", at(2))
    world.metrics("s1", 12, (0.005, 0.002), (100, 5), "v2", start=at(2), step=10)
    out = world.tick(at(7))
    assert actions(out) == [("blocked", "*")] and world.phase() == "rollout"
    assert world.servers() == {"s1": "applied", "s2": "pending"}
    assert actions(world.game("final", at(30))) == [("deploy", "s2")]


def test_a_failed_rollout_server_rolls_the_canary_back(world):
    to_baking(world)
    world.metrics("s1", 12, (0.005, 0.002), (100, 5), "v2", start=at(1.5), step=10)
    world.tick(at(7))
    out = world.report("s2", "failed", at(8), version="v1")
    assert actions(out) == [("rollback", "s1")]
    assert world.servers() == {"s1": "rolling_back", "s2": "failed"}
    assert "s2 failed to apply v2" in world.ctl.deployments["d1"]["reason"]
    world.report("s1", "rolled_back", at(9), version="v1")
    assert world.phase() == "rolled_back"


def test_a_failed_rollback_ends_failed(world):
    to_baking(world)
    world.metrics("s1", 12, (0.2, 0.02), (100, 5), "v2", start=at(1.5))
    world.report("s1", "rollback_failed", at(9))
    assert world.phase() == "failed"


def test_failed_canary_apply_ends_rolled_back_without_more_decisions(world):
    world.request(at(0))
    out = world.report("s1", "failed", at(1), version="v1")
    assert out.decisions == [] and world.phase() == "rolled_back"


def test_inconclusive_canary_is_rolled_back_after_the_timeout():
    w = World()  # no baseline samples at all
    w.request(at(0))
    w.report("s1", "applied", at(1))
    w.metrics("s1", 12, (0.005, 0.002), (100, 5), "v2", start=at(2))
    assert w.tick(at(30)).decisions == []
    out = w.tick(at(32))
    assert actions(out) == [("rollback", "s1")]
    assert "inconclusive" in w.ctl.deployments["d1"]["reason"]


def test_silent_canary_is_rolled_back_after_the_timeout(world):
    world.request(at(0))
    assert world.tick(at(29)).decisions == []
    assert actions(world.tick(at(31))) == [("rollback", "s1")]


def test_manual_rollback_cancels_a_waiting_request_and_undoes_a_completed_one(world):
    world.game("live", at(-1))
    world.request(at(0), dep="d0")
    world.feed(
        "DeploymentEvent", {"kind": "rollback", "deployment_id": "d0", "server_id": "*", "requested_by": "ann"}, at(1)
    )
    assert world.phase("d0") == "cancelled"
    world.game("final", at(2))
    assert world.tick(at(3)).decisions == []

    out = world.request(at(4), strategy="all_at_once")
    assert actions(out) == [("deploy", "s1"), ("deploy", "s2")]
    world.report("s1", "applied", at(5))
    assert actions(world.report("s2", "applied", at(5))) == [("completed", "*")]
    out = world.feed(
        "DeploymentEvent", {"kind": "rollback", "deployment_id": "d1", "server_id": "*", "detail": "bug"}, at(6)
    )
    assert actions(out) == [("rollback", "s1"), ("rollback", "s2")]
    assert world.ctl.deployments["d1"]["reason"] == "rollback requested by an operator: bug"


def test_redelivered_inputs_change_nothing_and_ids_are_deterministic(world):
    first = world.request(at(0))
    assert world.request(at(0.5)).decisions == []  # same deployment id again
    world.report("s1", "applied", at(1))
    assert world.report("s1", "applied", at(1)).decisions == []
    other = World()
    again = other.request(at(0))
    assert [d["decision_id"] for d in again.decisions] == [d["decision_id"] for d in first.decisions]


@pytest.mark.parametrize(
    ("extra", "problem"),
    [({"version": ""}, "no version"), ({"targets": []}, "no target"), ({"strategy": "yolo"}, "unknown strategy")],
)
def test_invalid_requests_are_rejected(extra, problem):
    w = World()
    out = w.request(at(0), **extra)
    assert actions(out) == [("blocked", "*")]
    assert w.phase() == "rejected" and problem in w.ctl.deployments["d1"]["reason"]


def test_snapshot_is_json_and_a_restored_controller_carries_on(world):
    to_baking(world)
    data = json.loads(json.dumps(world.ctl.snapshot()))
    restored = DeploymentController.from_snapshot(POLICY, data)
    world.ctl = restored
    decisions = all_decisions(world.metrics("s1", 12, (0.10, 0.02), (100, 5), "v2", start=at(1.5)))
    assert decisions == [("rollback", "s1")]
