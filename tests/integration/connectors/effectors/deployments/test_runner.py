"""``wirereport deploy manager``'s loop (DeploymentRunner) on a real broker: decisions, dead letters, restart."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connectors.effectors.deployments.runner import DeploymentRunner
from connectors.kafka.edge import EdgeProducer, consume_records
from connectors.testing import running_broker, wait_until
from streams.deployments.canary_analysis import CanaryPolicy
from streams.deployments.manager import DeploymentPolicy
from streams.topics import topic

POLICY = DeploymentPolicy(windows=(), canary=CanaryPolicy(min_samples=5), bake_seconds=0)


@pytest.fixture(scope="module")
def own_broker():
    """This module's own broker: its garbage and live games must not leak into other tests."""
    with running_broker() as bootstrap:
        yield bootstrap


def request(dep: str) -> dict:
    now = datetime.now(UTC)
    return {
        "event_id": f"e-{dep}",
        "kind": "request",
        "deployment_id": dep,
        "server_id": "*",
        "league": "WNBA",
        "version": "v2",
        "targets": ["w1", "w2"],
        "occurred_at": now,
    }


def game(status: str) -> dict:
    return {
        "game_id": "wnba-1",
        "league": "WNBA",
        "home_team": "NYL",
        "away_team": "LVA",
        "home_score": 1,
        "away_score": 0,
        "period": 1,
        "clock_seconds": 500,
        "status": status,
        "last_play_id": "p",
        "last_sequence": 1,
        "plays_seen": 1,
        "updated_at": datetime.now(UTC),
    }


def run_until(runner: DeploymentRunner, predicate, timeout: float = 20.0):
    """Run rounds of the runner's loop until ``predicate()`` holds (outputs flushed and state saved)."""

    def step():
        runner.step()
        return predicate()

    return wait_until(step, timeout=timeout, interval=0)


def read(bootstrap: str, topic_name: str, count: int) -> list[dict]:
    """The first ``count`` records of a topic (waits 1.5 s after the last one if there are fewer)."""
    return [r for _, r in consume_records(bootstrap, topic_name, max_messages=count, timeout=1.5)]


def decisions(bootstrap: str, dep: str, count: int) -> set[tuple[str, str]]:
    """Decisions of a deployment (a set: decisions for different servers are in different partitions)."""
    return {(d["action"], d["server_id"]) for d in read(bootstrap, "deployment-decisions", count + 1)}


def test_runner_blocks_deploys_dead_letters_and_resumes_after_restart(own_broker, tmp_path):
    state_file = tmp_path / "deploy-manager.json"
    lines: list[str] = []
    runner = DeploymentRunner(own_broker, POLICY, state_file, echo=lines.append)
    with EdgeProducer(own_broker) as producer:
        producer.send("game-state", game("live"))
    run_until(runner, lambda: "wnba-1" in runner.controller.games)  # topics are not ordered together
    with EdgeProducer(own_broker) as producer:
        producer.send("deployment-events", request("dep-r1"))
        producer.send_raw(topic("deployment-events"), b"*", b"not avro")
    run_until(runner, lambda: any("decision blocked dep-r1" in line for line in lines))
    with EdgeProducer(own_broker) as producer:
        producer.send("game-state", game("final"))
    events_read = lambda: sum(v for k, v in runner.offsets.items() if k.startswith("deployment-events:"))  # noqa: E731
    run_until(runner, lambda: runner.controller.deployments["dep-r1"]["phase"] == "canary")
    run_until(runner, lambda: events_read() == 2)  # the request and the garbage
    runner.close()
    letters = read(own_broker, "dead-letters", 1)
    assert [(r["source_topic"], r["value"], r["agent"]) for r in letters] == [
        ("deployment-events", b"not avro", "deploy-manager")
    ]
    assert "bad magic bytes" in letters[0]["reason"]

    # restart: the state file brings back the deployment and the offsets; nothing is decided twice
    restarted = DeploymentRunner(own_broker, POLICY, state_file, echo=lines.append)
    assert restarted.controller.deployments["dep-r1"]["phase"] == "canary"
    report = {
        **request("dep-r1"),
        "event_id": "r1",
        "kind": "report",
        "server_id": "w1",
        "status": "applied",
        "previous_version": "v1",
        "targets": [],
    }
    with EdgeProducer(own_broker) as producer:
        producer.send("deployment-events", report)
    run_until(restarted, lambda: restarted.controller.deployments["dep-r1"]["phase"] == "baking")
    restarted.close()
    assert decisions(own_broker, "dep-r1", 3) == {("blocked", "*"), ("deploy", "w1"), ("hold", "*")}
    states = read(own_broker, "deployment-state", 3)
    assert [s["phase"] for s in states] == ["waiting", "canary", "baking"]
