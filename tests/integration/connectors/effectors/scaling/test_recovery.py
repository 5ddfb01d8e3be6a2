"""The scaler never loses a command: transient failures are retried (and redelivered after a restart), bad input
and permanent failures are dead-lettered without blocking other leagues, reconciliation restores the desired count,
and a fresh scaler applies only the newest command of each league. Real broker, real HTTP server, real processes."""

from __future__ import annotations

import gc
import json
import sys
import threading
from datetime import UTC, datetime

import psutil
import pytest

from connectors.effectors.scaling.executors import KubernetesExecutor, LocalProcessExecutor
from connectors.effectors.scaling.scaler import AppliedCommands, Scaler, run_scaler
from connectors.kafka.edge import EdgeProducer, consume_records
from connectors.testing import running_broker, serving, wait_until
from connectors.testing.executors import RecordingExecutor
from connectors.testing.http_server import JsonHandler

SLEEPER = f"{sys.executable} -c 'import time; time.sleep(120)' {{league}} {{index}}"
DEPLOYMENT = "/apis/apps/v1/namespaces/default/deployments/wirereport-{}"


@pytest.fixture
def own_broker():
    """A broker of the test's own: its scaling-commands topic holds only this test's messages."""
    with running_broker() as bootstrap:
        yield bootstrap
        gc.collect()  # frees producers (their error callback is a reference cycle): the broker then stops at once


class FakeKubernetes(JsonHandler):
    """Deployments with ``spec.replicas``; PATCH answers 503 while ``failures_left`` > 0 (or ``down``), 404 for a
    Deployment that does not exist."""

    replicas: dict[str, int] = {}
    patches: list[tuple[str, int, int]] = []  # (path, replicas asked, status answered)
    failures_left = 0
    down = False
    lock = threading.Lock()

    def do_GET(self):
        cls = type(self)
        if self.path not in cls.replicas:
            return self.answer(404, {"kind": "Status", "code": 404})
        self.answer(200, {"spec": {"replicas": cls.replicas[self.path]}})

    def do_PATCH(self):
        cls = type(self)
        asked = json.loads(self.rfile.read(int(self.headers["Content-Length"])))["spec"]["replicas"]
        with cls.lock:
            if self.path not in cls.replicas:
                cls.patches.append((self.path, asked, 404))
                return self.answer(404, {"kind": "Status", "code": 404})
            failing = cls.down or cls.failures_left > 0
            cls.failures_left -= 0 if cls.down else int(failing)
            status = 503 if failing else 200
            cls.patches.append((self.path, asked, status))
            if not failing:
                cls.replicas[self.path] = asked
        self.answer(status, {"spec": {"replicas": asked}} if not failing else {"code": 503})


@pytest.fixture
def k8s_api():
    FakeKubernetes.replicas = {DEPLOYMENT.format(lg): 1 for lg in ("nfl", "nba", "wnba")}
    FakeKubernetes.patches = []
    FakeKubernetes.failures_left = 0
    FakeKubernetes.down = False
    with serving(FakeKubernetes) as url:
        yield url


def command(cid: str, league: str, after: int, before: int = 1) -> dict:
    return {
        "command_id": cid,
        "league": league,
        "agents_before": before,
        "agents_after": after,
        "action": "scale_up" if after > before else "scale_down",
        "reason": "test",
        "forecast": None,
        "forecast_only": False,
        "decided_at": datetime.now(UTC),
    }


class Running:
    """``run_scaler`` in a thread, its event lines collected."""

    def __init__(self, bootstrap, executor, applied, leagues=None, reconcile_seconds=60.0):
        self.lines: list[str] = []
        self.stop = threading.Event()
        self.scaler = Scaler(
            executor,
            applied,
            leagues,
            on_event=self.lines.append,
            retry_initial_seconds=0.02,
            retry_max_seconds=0.1,
            reconcile_seconds=reconcile_seconds,
        )
        self.thread = threading.Thread(target=run_scaler, args=(self.scaler, bootstrap, self.stop), daemon=True)

    def __enter__(self) -> Running:
        self.thread.start()
        wait_until(lambda: "scaler ready" in self.lines, 20)
        return self

    def __exit__(self, *_):
        self.stop.set()
        self.thread.join(10)
        assert not self.thread.is_alive()

    def matching(self, text: str) -> list[str]:
        return [line for line in self.lines if text in line]


def _send(bootstrap: str, *commands: dict) -> None:
    with EdgeProducer(bootstrap) as producer:
        for c in commands:
            producer.send("scaling-commands", c)


def test_failing_api_is_retried_until_the_deployment_has_the_commanded_replicas(own_broker, k8s_api, tmp_path):
    FakeKubernetes.failures_left = 4
    executor = KubernetesExecutor(k8s_api)
    applied = AppliedCommands(tmp_path / "applied.sqlite3")
    try:
        with Running(own_broker, executor, applied) as run:
            _send(own_broker, command("nba-1", "NBA", 3), command("nba-2", "NBA", 5, before=3))
            wait_until(lambda: len(run.matching("scaled NBA")) == 2, 20, message=lambda: "\n".join(run.lines))
            _send(own_broker, command("nba-1", "NBA", 3))  # a redelivery of an applied command
            wait_until(lambda: run.scaler.duplicates == 1, 20)
        nba = DEPLOYMENT.format("nba")
        assert FakeKubernetes.replicas[nba] == 5
        assert [(asked, status) for _, asked, status in FakeKubernetes.patches] == [(3, 503)] * 4 + [(3, 200), (5, 200)]
        failed = run.matching("scaling failed")
        expected = [
            f"scaling failed (attempt {n}, retry in {d}s)" for n, d in ((1, 0.02), (2, 0.04), (3, 0.08), (4, 0.1))
        ]
        assert [line.split(":")[0] for line in failed] == expected  # capped exponential backoff
        assert all("HTTP 503" in line and "[nba-1]" in line for line in failed)
        assert "nba-1" in applied and "nba-2" in applied
    finally:
        executor.close()
        applied.close()


def test_a_restart_while_failing_redelivers_the_command_and_applies_it(own_broker, k8s_api, tmp_path):
    FakeKubernetes.down = True
    wnba = DEPLOYMENT.format("wnba")
    executor = KubernetesExecutor(k8s_api)
    applied = AppliedCommands(tmp_path / "applied.sqlite3")
    try:
        with Running(own_broker, executor, applied) as run:
            _send(own_broker, command("wnba-1", "WNBA", 4))
            wait_until(lambda: len(run.matching("scaling failed")) >= 2, 20)
        assert "wnba-1" not in applied
        assert set(applied.positions().values()) == {0}  # the failing command was not consumed
        assert FakeKubernetes.replicas[wnba] == 1
        FakeKubernetes.down = False  # the API is healthy again; the scaler restarts
        applied.close()
        applied = AppliedCommands(tmp_path / "applied.sqlite3")
        with Running(own_broker, executor, applied) as again:
            wait_until(lambda: again.matching("scaled WNBA"), 20, message=lambda: "\n".join(again.lines))
        assert FakeKubernetes.replicas[wnba] == 4
        assert [asked for _, asked, status in FakeKubernetes.patches if status == 200] == [4]  # applied once
        assert "wnba-1" in applied
    finally:
        executor.close()
        applied.close()


def test_undecodable_and_invalid_commands_go_to_dead_letters(own_broker, tmp_path):
    with EdgeProducer(own_broker) as producer:
        producer.send_raw("scaling-commands", b"NFL", b"\x00garbage, not a ScalingCommand", partition=0)
    _send(own_broker, {**command("nfl-bad", "NFL", 2), "agents_after": -2}, command("nfl-1", "NFL", 2))
    executor = RecordingExecutor()
    applied = AppliedCommands(tmp_path / "applied.sqlite3")
    try:
        with Running(own_broker, executor, applied) as run:
            wait_until(lambda: executor.calls, 20)
            wait_until(lambda: run.scaler.dead_letters == 2, 20)
            assert executor.calls == [("NFL", 2)]
        letters = [r for _, r in consume_records(own_broker, "dead-letters", timeout=1)]
        assert len(letters) == 2
        garbage = next(r for r in letters if r["value"] == b"\x00garbage, not a ScalingCommand")
        assert garbage["source_topic"] == "scaling-commands" and garbage["agent"] == "scaler"
        assert garbage["partition"] == 0 and garbage["key"] == b"NFL"
        assert garbage["reason"].startswith("undecodable ScalingCommand")
        invalid = next(r for r in letters if r is not garbage)
        assert "agents_after=-2" in invalid["reason"]
        assert len(run.matching("dead-lettered scaling-commands")) == 2
        # the positions passed them: nothing is redelivered after a restart
        assert sum(applied.positions().values()) == 3
    finally:
        applied.close()


def test_reconciliation_restores_a_killed_local_worker(own_broker, tmp_path):
    _send(own_broker, command("nfl-2", "NFL", 2))
    executor = LocalProcessExecutor(SLEEPER, stop_timeout=5)
    applied = AppliedCommands(tmp_path / "applied.sqlite3")
    try:
        with Running(own_broker, executor, applied, reconcile_seconds=0.2) as run:
            first = wait_until(lambda: executor.pids("NFL") if len(executor.pids("NFL")) == 2 else None, 20)
            psutil.Process(first[0]).kill()
            wait_until(lambda: run.matching("reconciled NFL: 1 -> 2"), 20, message=lambda: "\n".join(run.lines))
            now = executor.pids("NFL")
            assert len(now) == 2 and first[0] not in now and first[1] in now
        assert sum(applied.positions().values()) == 1
        # a restarted scaler (fresh executor, no workers) reconciles to the last desired count at start
        executor.close()
        executor = LocalProcessExecutor(SLEEPER, stop_timeout=5)
        with Running(own_broker, executor, applied) as again:
            assert executor.current("NFL") == 2
            assert again.matching("reconciled NFL: 0 -> 2")
    finally:
        executor.close()
        applied.close()


def test_a_permanent_failure_is_dead_lettered_and_other_leagues_go_on(own_broker, k8s_api, tmp_path):
    del FakeKubernetes.replicas[DEPLOYMENT.format("nfl")]  # no Deployment for NFL: HTTP 404, retrying cannot help
    FakeKubernetes.failures_left = 1  # and one transient 503 first, which is retried
    executor = KubernetesExecutor(k8s_api)
    applied = AppliedCommands(tmp_path / "applied.sqlite3")
    try:
        with Running(own_broker, executor, applied) as run:
            _send(own_broker, command("nba-1", "NBA", 2), command("nfl-1", "NFL", 3), command("wnba-1", "WNBA", 4))
            _send(own_broker, command("nfl-2", "NFL", 5), command("nba-2", "NBA", 6, before=2))
            wait_until(lambda: len(run.matching("scaled ")) == 3, 20, message=lambda: "\n".join(run.lines))
            wait_until(lambda: run.scaler.dead_letters == 2, 20, message=lambda: "\n".join(run.lines))
        assert FakeKubernetes.replicas[DEPLOYMENT.format("nba")] == 6
        assert FakeKubernetes.replicas[DEPLOYMENT.format("wnba")] == 4
        nfl = [(asked, status) for path, asked, status in FakeKubernetes.patches if path.endswith("-nfl")]
        assert nfl == [(3, 404), (5, 404)]  # each tried once, never retried
        assert len(run.matching("scaling failed")) == 1 and "HTTP 503" in run.matching("scaling failed")[0]
        letters = [r for _, r in consume_records(own_broker, "dead-letters", timeout=1)]
        assert sorted(r["offset"] for r in letters) == sorted(
            int(line.split("@")[1].split(":")[0]) for line in run.matching("dead-lettered")
        )
        assert all(r["agent"] == "scaler" and "HTTP 404" in r["reason"] for r in letters)
        assert sorted(r["reason"].split()[4].rstrip(":") for r in letters) == ["nfl-1", "nfl-2"]
        alerts = [r for _, r in consume_records(own_broker, "alerts", timeout=1)]
        assert [(a["alertname"], a["severity"], a["league"]) for a in alerts] == [
            ("ScalingCommandFailed", "critical", "NFL")
        ] * 2
        assert len({a["fingerprint"] for a in alerts}) == 2 and all("HTTP 404" in a["summary"] for a in alerts)
        assert "nfl-1" not in applied and "nba-2" in applied
        # the positions passed the dead-lettered commands: a restart redelivers nothing
        with Running(own_broker, executor, applied) as again:
            pass
        assert again.scaler.dead_letters == 0 and not again.matching("scaled ")
    finally:
        executor.close()
        applied.close()


def test_a_fresh_scaler_applies_only_the_newest_command_of_each_league(own_broker, k8s_api, tmp_path):
    history = [command(f"nba-{n}", "NBA", n) for n in range(2, 8)]  # one batch: ListOffsets undercounts it
    history += [command("nfl-1", "NFL", 2), command("nfl-2", "NFL", 3, before=2)]
    history += [{**command("nfl-3", "NFL", 9, before=3), "forecast_only": True}]  # only reported, not the newest
    _send(own_broker, *history)
    _send(own_broker, command("nba-8", "NBA", 8, before=7), command("nba-7", "NBA", 7))  # a redelivery of nba-7
    executor = KubernetesExecutor(k8s_api)
    applied = AppliedCommands(tmp_path / "applied.sqlite3")
    try:
        with Running(own_broker, executor, applied) as run:
            assert run.matching("caught up: 11 command(s)")
            assert sorted(run.matching("scaled ")) == [
                "scaled NBA 7 -> 8 (scale_up: test) [nba-8]",
                "scaled NFL 2 -> 3 (scale_up: test) [nfl-2]",
            ]
            _send(own_broker, command("nba-9", "NBA", 9, before=8))  # after the catch-up: followed one by one
            wait_until(lambda: len(run.matching("scaled NBA")) == 2, 20, message=lambda: "\n".join(run.lines))
        patched = sorted((path.rsplit("-", 1)[1], asked) for path, asked, _ in FakeKubernetes.patches)
        assert patched == [("nba", 8), ("nba", 9), ("nfl", 3)]  # each league once, then the new command
        assert "nba-8" in applied and "nba-9" in applied and "nba-7" not in applied and "nba-2" not in applied
        with Running(own_broker, executor, applied) as again:  # positions saved: no catch-up, nothing repeated
            pass
        assert not again.matching("caught up") and not again.matching("scaled ")
        assert len(FakeKubernetes.patches) == 3
    finally:
        executor.close()
        applied.close()
