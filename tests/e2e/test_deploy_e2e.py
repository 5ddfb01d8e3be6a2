"""Safe deployments end to end: real broker, real git working copies, ``wirereport`` processes.

Two league servers (s1, s2), each a clone of an origin repository with tags v1 and v2 and a restart script
that appends "<version> <app.txt>" to a marker file. The worker (with the deployments agents) and both
deployment agents run as real ``wirereport`` processes. The test drives them through: blocked during a live
NBA game, allowed once it ends; a canary with injected errors rolled back (s1 back at v1, s2 never touched);
a healthy canary, with a worker crash while it bakes, promoted to every target.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connectors.kafka.edge import EdgeProducer, assigned_consumer
from connectors.testing import WirereportProcess, running_broker, wait_until
from schemas.codec import get_codec
from streams.topics import topic

GIT_ENV = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")} | {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.com",
}
PROCESS_ENV = {
    "WIREREPORT_DEPLOY_WINDOWS": "Mon-Sun 00:00-24:00 UTC",
    "WIREREPORT_DEPLOY_CANARY_BAKE_SECONDS": "0",
    "WIREREPORT_DEPLOY_CANARY_MIN_SAMPLES": "8",
}


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=repo, env=GIT_ENV, check=True, capture_output=True, text=True)
    return done.stdout.strip()


def version_of(repo: Path) -> str:
    return (repo / "app.txt").read_text().strip()


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    """An isolated broker (no other test's live games), two working copies at v1, two agents, the worker.

    The manager runs as the Faust agent (``streams/agents/deployments.py``) inside ``wirereport worker``;
    ``wirereport deploy manager`` (the same pure manager without Faust) is covered by test_deploy_runner.py.
    """
    root = tmp_path_factory.mktemp("deploy")
    origin = root / "origin"
    origin.mkdir()
    git(origin, "init", "-q", "-b", "main")
    for version in ("v1", "v2"):
        (origin / "app.txt").write_text(f"{version}\n")
        git(origin, "add", "app.txt")
        git(origin, "commit", "-q", "-m", f"release {version}")
        git(origin, "tag", version)
    script = root / "restart.sh"
    script.write_text('#!/bin/sh\necho "$WIREREPORT_DEPLOY_VERSION $(cat app.txt)" >> "$1"\n')
    repos = {}
    with running_broker() as bootstrap:
        processes, watch = [], {}
        try:
            for server in ("s1", "s2"):
                repo = root / server
                git(root, "clone", "-q", str(origin), str(repo))
                git(repo, "checkout", "-q", "--detach", "v1")
                repos[server] = repo
                agent = WirereportProcess(
                    [
                        "deploy-agent",
                        "--server-id",
                        server,
                        "--repo",
                        str(repo),
                        "--restart-cmd",
                        f"sh {script} {root}/{server}.marker",
                    ],
                    bootstrap=bootstrap,
                    env=PROCESS_ENV,
                ).start()
                processes.append(agent)
            env = {**PROCESS_ENV, "WIREREPORT_APP_ID": "deploy-e2e"}
            manager = WirereportProcess(["worker"], bootstrap=bootstrap, env=env).start()
            processes.append(manager)
            for p in processes[:2]:
                p.wait_for_output("deploy agent ready", timeout=60)
            manager.wait_for_output("worker ready", timeout=90)
            names = ("deployment-decisions", "deployment-state", "deployment-manager-feed")
            watch = {name: TopicWatch(bootstrap, name) for name in names}

            def restart_worker() -> None:
                """Crash the worker (SIGKILL) and start it again: its tables must come back from the changelogs."""
                old = processes[2]
                old.kill()
                new = WirereportProcess(
                    ["worker"], bootstrap=bootstrap, env={**env, "WIREREPORT_DATA_DIR": str(old.data_dir)}
                )
                processes[2] = new.start()
                new.wait_for_output("worker ready", timeout=90)

            yield {
                "bootstrap": bootstrap,
                "root": root,
                "repos": repos,
                "agents": processes[:2],
                "watch": watch,
                "restart_worker": restart_worker,
            }
        finally:
            for w in watch.values():
                w.close()
            for p in processes[:2]:  # the agents: Ctrl-C, in parallel
                p.signal(signal.SIGINT)
            if len(processes) > 2:
                processes[2].kill()  # the worker's graceful shutdown takes seconds and is not under test here
            for p in processes:
                p.stop()


def _game(status: str, now: datetime) -> dict:
    return {
        "game_id": "nba-g1",
        "league": "NBA",
        "home_team": "BOS",
        "away_team": "LAL",
        "home_score": 50,
        "away_score": 48,
        "period": 3,
        "clock_seconds": 300,
        "status": status,
        "last_play_id": "p1",
        "last_sequence": 1,
        "plays_seen": 1,
        "updated_at": now,
    }


def _metrics(server: str, at: datetime, error_rate: float, latency: float, version: str) -> dict:
    return {
        "server_id": server,
        "league": "NBA",
        "observed_at": at,
        "cpu_percent": 30.0,
        "memory_percent": 40.0,
        "disk_percent": 50.0,
        "workload": 10.0,
        "error_rate": error_rate,
        "latency_ms": latency,
        "version": version,
    }


def _request(bootstrap: str, deployment_id: str) -> None:
    cli = WirereportProcess(
        [
            "deploy",
            "request",
            "--version",
            "v2",
            "--league",
            "NBA",
            "--targets",
            "s1,s2",
            "--deployment-id",
            deployment_id,
        ],
        bootstrap=bootstrap,
    ).start()
    assert cli.process.wait(60) == 0, cli.output
    cli.stop()
    assert f"requested deployment {deployment_id}" in cli.output


class TopicWatch:
    """Everything a topic received so far, read by one long-lived consumer (no group)."""

    def __init__(self, bootstrap: str, name: str):
        self.name = name
        self.records: list[dict] = []
        self.consumer = assigned_consumer(bootstrap, [name])

    def poll(self) -> list[dict]:
        for msg in self.consumer.consume(500, 0.1):
            if not msg.error():
                self.records.append(get_codec().decode(msg.value(), topic(self.name).value_schemas)[1])
        return self.records

    def wait_for(self, predicate, what: str) -> dict:
        return wait_until(lambda: next((r for r in self.poll() if predicate(r)), None), timeout=60, message=what)

    def close(self) -> None:
        self.consumer.close()


def wait_decision(watch, deployment_id: str, action: str, server: str = "*") -> dict:
    """The first ``action`` decision of a deployment for ``server`` on ``deployment-decisions``."""
    key = (deployment_id, action, server)
    return watch["deployment-decisions"].wait_for(
        lambda d: (d["deployment_id"], d["action"], d["server_id"]) == key, f"no decision {key}"
    )


def wait_phase(watch, deployment_id: str, phase: str) -> dict:
    """The deployment's state once ``deployment-state`` shows it in ``phase``."""
    return watch["deployment-state"].wait_for(
        lambda s: (s["deployment_id"], s["phase"]) == (deployment_id, phase), f"{deployment_id} never {phase}"
    )


def test_blocked_during_live_game_then_bad_canary_rolled_back_then_healthy_rollout(fleet):
    bootstrap, root, repos = fleet["bootstrap"], fleet["root"], fleet["repos"]
    s1_agent, s2_agent = fleet["agents"]
    watch = fleet["watch"]
    rnd = random.Random(7)
    now = datetime.now(UTC)
    with EdgeProducer(bootstrap) as producer:
        for i in range(30):  # baseline of both servers on v1: ~0.5 % errors, ~100 ms
            at = now - timedelta(seconds=15 * (30 - i))
            for server in ("s1", "s2"):
                producer.send("system-metrics", _metrics(server, at, rnd.uniform(0, 0.01), rnd.gauss(100, 5), "v1"))
        producer.send("game-state", _game("live", now))
    # topics are not ordered with each other: request only once the live game is on the manager's feed
    watch["deployment-manager-feed"].wait_for(lambda r: r.get("status") == "live", "live game never forwarded")

    # 1. blocked while the NBA game is live; allowed once it is final
    _request(bootstrap, "dep-bad")
    blocked = wait_decision(watch, "dep-bad", "blocked")
    assert "NBA game live: nba-g1 (LAL at BOS)" in blocked["reason"]
    assert version_of(repos["s1"]) == "v1"
    with EdgeProducer(bootstrap) as producer:
        producer.send("game-state", _game("final", datetime.now(UTC)))
    deploy = wait_decision(watch, "dep-bad", "deploy", "s1")
    assert deploy["canary"] and deploy["decided_at"] > blocked["decided_at"]
    s1_agent.wait_for_output("applied v2 on s1 (dep-bad)")
    assert version_of(repos["s1"]) == "v2"
    assert (root / "s1.marker").read_text().splitlines() == ["v2 v2"]

    # 2. the canary's error rate jumps: rolled back automatically, s2 never touched
    with EdgeProducer(bootstrap) as producer:
        start = datetime.now(UTC)
        for i in range(12):  # distinct timestamps (a server reports one sample per timestamp)
            at = start + timedelta(milliseconds=5 * i)
            producer.send("system-metrics", _metrics("s1", at, rnd.uniform(0.08, 0.15), rnd.gauss(100, 5), "v2"))
    wait_decision(watch, "dep-bad", "rollback", "s1")
    s1_agent.wait_for_output("rolled_back dep-bad on s1")
    state = wait_phase(watch, "dep-bad", "rolled_back")
    assert state["canary"]["verdict"] == "regression" and state["canary"]["error_rate_p"] < 0.025
    assert "regression: error rate" in state["reason"]
    assert [(s["server_id"], s["status"]) for s in state["servers"]] == [("s1", "rolled_back"), ("s2", "pending")]
    assert version_of(repos["s1"]) == "v1"
    assert git(repos["s1"], "describe", "--tags", "--exact-match") == "v1"
    assert (root / "s1.marker").read_text().splitlines() == ["v2 v2", "v1 v1"]
    assert version_of(repos["s2"]) == "v1" and not (root / "s2.marker").exists()

    # 3. a healthy canary: promoted to every target
    _request(bootstrap, "dep-good")
    wait_decision(watch, "dep-good", "deploy", "s1")
    s1_agent.wait_for_output("applied v2 on s1 (dep-good)")
    wait_phase(watch, "dep-good", "baking")
    fleet["restart_worker"]()  # the baking deployment and the canary's baseline samples survive a crash
    with EdgeProducer(bootstrap) as producer:
        start = datetime.now(UTC)
        for i in range(12):
            at = start + timedelta(milliseconds=5 * i)
            producer.send("system-metrics", _metrics("s1", at, rnd.uniform(0, 0.01), rnd.gauss(100, 5), "v2"))
    rollout = wait_decision(watch, "dep-good", "deploy", "s2")
    assert "canary s1 healthy" in rollout["reason"] and not rollout["canary"]
    s2_agent.wait_for_output("applied v2 on s2 (dep-good)")
    state = wait_phase(watch, "dep-good", "completed")
    assert state["canary"]["verdict"] == "pass"
    assert [(s["server_id"], s["status"]) for s in state["servers"]] == [("s1", "applied"), ("s2", "applied")]
    assert version_of(repos["s1"]) == "v2" and version_of(repos["s2"]) == "v2"
    assert (root / "s2.marker").read_text().splitlines() == ["v2 v2"]
    assert "dep-bad" not in s2_agent.output
