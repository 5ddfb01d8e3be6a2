"""Executors against real parts: local worker processes, and a real HTTP server standing in for Kubernetes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import psutil
import pytest

from connectors.effectors.scaling.executors import (
    KubernetesExecutor,
    LocalProcessExecutor,
    PermanentScaleError,
    ScaleError,
    check_api_url,
    check_worker_command,
)
from connectors.effectors.scaling.scaler import AppliedCommands, Scaler
from connectors.exceptions import InputError
from connectors.testing import serving, wait_until
from connectors.testing.executors import RecordingExecutor
from connectors.testing.http_server import JsonHandler

SLEEPER = f"{sys.executable} -c 'import time; time.sleep(120)' {{league}} {{index}}"


def _alive(pids):
    return [p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]


def test_local_executor_changes_the_number_of_processes():
    executor = LocalProcessExecutor(SLEEPER, stop_timeout=5)
    try:
        executor.scale("NBA", 3)
        first = executor.pids("NBA")
        assert len(first) == 3 and len(_alive(first)) == 3
        executor.scale("NBA", 1)
        assert executor.current("NBA") == 1
        assert len(_alive(first)) == 1
        # a crashed worker is replaced on the next convergence
        psutil.Process(executor.pids("NBA")[0]).kill()
        wait_until(lambda: executor.current("NBA") == 0, 10)
        executor.converge()
        assert executor.current("NBA") == 1
    finally:
        executor.close()
    assert executor.current("NBA") == 0


def test_scaler_applies_each_command_once(tmp_path):
    executor = LocalProcessExecutor(SLEEPER, stop_timeout=5)
    applied = AppliedCommands(tmp_path / "applied.sqlite3")
    scaler = Scaler(executor, applied)
    up = {
        "command_id": "c1",
        "league": "WNBA",
        "agents_before": 0,
        "agents_after": 2,
        "action": "scale_up",
        "reason": "test",
        "forecast": 1.0,
        "forecast_only": False,
    }
    down = {**up, "command_id": "c2", "agents_before": 2, "agents_after": 1, "action": "scale_down"}
    shadow = {**up, "command_id": "c3", "agents_after": 5, "forecast_only": True}
    try:
        assert scaler.handle(up)
        assert scaler.handle(down)
        assert not scaler.handle(up)  # redelivered: ignored
        assert not scaler.handle(shadow)  # forecast-only: recorded, not acted on
        assert executor.current("WNBA") == 1
        assert scaler.duplicates == 1
        # the record survives a restart: a new scaler restores the count and still ignores c1
        executor.close()
        applied.close()
        applied = AppliedCommands(tmp_path / "applied.sqlite3")
        executor = LocalProcessExecutor(SLEEPER, stop_timeout=5)
        again = Scaler(executor, applied)
        again.reconcile()  # as at the start of run_scaler
        assert executor.current("WNBA") == 1
        assert not again.handle(up)
    finally:
        executor.close()
        applied.close()


class _Recorder(JsonHandler):
    requests: list = []
    status = 200
    replicas: dict[str, int] = {}

    def do_GET(self):
        cls = type(self)
        if self.path in cls.replicas:
            self.answer(cls.status, {"spec": {"replicas": cls.replicas[self.path]}})
        else:
            self.answer(404, {"code": 404})

    def do_PATCH(self):
        cls = type(self)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        cls.requests.append((self.path, dict(self.headers), body))
        if cls.status < 300:
            cls.replicas[self.path] = body["spec"]["replicas"]
        self.answer(cls.status, {})


@pytest.fixture
def k8s_api():
    _Recorder.requests = []
    _Recorder.status = 200
    _Recorder.replicas = {}
    with serving(_Recorder) as url:
        yield url


def test_kubernetes_executor_patches_replicas(k8s_api):
    executor = KubernetesExecutor(k8s_api, token="s3cret", namespace="sports", deployment="wr-{league}")
    executor.scale("NBA", 7)
    path, headers, body = _Recorder.requests[-1]
    assert path == "/apis/apps/v1/namespaces/sports/deployments/wr-nba"
    assert headers["Content-Type"] == "application/merge-patch+json"
    assert headers["Authorization"] == "Bearer s3cret"
    assert body == {"spec": {"replicas": 7}}
    assert executor.current("NBA") == 7  # read back from the API
    _Recorder.status = 403
    with pytest.raises(PermanentScaleError, match="HTTP 403"):
        executor.scale("NBA", 8)
    with pytest.raises(PermanentScaleError, match="HTTP 403"):
        executor.current("NBA")
    for transient in (408, 409, 429, 500, 503):  # worth retrying: not permanent
        _Recorder.status = transient
        with pytest.raises(ScaleError, match=f"HTTP {transient}") as raised:
            executor.scale("NBA", 8)
        assert not isinstance(raised.value, PermanentScaleError)
    _Recorder.status = 200
    assert executor.current("NBA") == 7
    with pytest.raises(PermanentScaleError, match="HTTP 404"):
        executor.current("NFL")  # no such Deployment
    executor.close()


def test_reconcile_restores_replicas_changed_by_someone_else(k8s_api, tmp_path):
    executor = KubernetesExecutor(k8s_api, namespace="sports", deployment="wr-{league}")
    applied = AppliedCommands(tmp_path / "applied.sqlite3")
    lines: list[str] = []
    scaler = Scaler(executor, applied, on_event=lines.append)
    up = {
        "command_id": "k1",
        "league": "NBA",
        "agents_before": 1,
        "agents_after": 4,
        "action": "scale_up",
        "reason": "test",
        "forecast": None,
        "forecast_only": False,
    }
    try:
        assert scaler.handle(up)
        path = "/apis/apps/v1/namespaces/sports/deployments/wr-nba"
        scaler.reconcile()
        assert len(_Recorder.requests) == 1  # in step: nothing re-applied
        _Recorder.replicas[path] = 9  # someone scaled the Deployment by hand
        scaler.reconcile()
        assert _Recorder.replicas[path] == 4 and _Recorder.requests[-1][2] == {"spec": {"replicas": 4}}
        assert lines[-1] == "reconciled NBA: 9 -> 4 agent(s)"
        # a new scaler remembers the desired count from its applied commands
        _Recorder.replicas[path] = 2
        again = Scaler(executor, applied, on_event=lines.append)
        assert again.desired == {"NBA": 4}
        again.reconcile()
        assert _Recorder.replicas[path] == 4
        # an API that cannot be read is one line, and the next reconciliation tries again
        _Recorder.status = 503
        again.reconcile()
        assert lines[-1].startswith("reconcile NBA failed: ") and "HTTP 503" in lines[-1]
    finally:
        executor.close()
        applied.close()


def test_scaler_resumes_after_restart_without_repeating(broker, tmp_path):
    from datetime import UTC, datetime

    from connectors.effectors.scaling.scaler import run_scaler
    from connectors.kafka.edge import EdgeProducer

    def command(cid, after):
        return {
            "command_id": cid,
            "league": "NFL",
            "agents_before": 1,
            "agents_after": after,
            "action": "scale_up",
            "reason": "test",
            "forecast": None,
            "forecast_only": False,
            "decided_at": datetime.now(UTC),
        }

    def run_until(executor, applied, count):
        stop = threading.Event()
        scaler = Scaler(executor, applied, {"NFL"})
        thread = threading.Thread(target=run_scaler, args=(scaler, broker, stop), daemon=True)
        thread.start()
        try:
            wait_until(lambda: len(executor.calls) >= count, 20)
        finally:
            stop.set()
            thread.join(10)
        return scaler

    tag = tmp_path.name
    with EdgeProducer(broker) as producer:
        producer.send("scaling-commands", command(f"{tag}-a", 3))
        producer.send("scaling-commands", command(f"{tag}-b", 4))
    applied = AppliedCommands(tmp_path / "applied.sqlite3")
    first = RecordingExecutor()
    run_until(first, applied, 1)
    assert first.calls == [("NFL", 4)]  # a fresh scaler applies only the newest NFL command of the history
    with EdgeProducer(broker) as producer:
        producer.send("scaling-commands", command(f"{tag}-b", 4))  # a redelivery
        producer.send("scaling-commands", command(f"{tag}-c", 6))
    second = RecordingExecutor()
    scaler = run_until(second, applied, 1)
    assert second.calls == [("NFL", 6)]  # resumed after b; the redelivered b was recognised by its id
    assert scaler.duplicates == 1
    applied.close()


def test_a_missing_worker_program_is_a_permanent_error(tmp_path):
    executor = LocalProcessExecutor(f"{tmp_path}/no-such-worker --league {{league}}")
    with pytest.raises(PermanentScaleError, match="no-such-worker"):
        executor.scale("NBA", 1)
    assert executor.current("NBA") == 0


def test_settings_are_checked_at_start(tmp_path):
    assert check_api_url("https://10.0.0.1:6443") == "https://10.0.0.1:6443"
    for bad in ("not a url", "ftp://host", "http://", "localhost:8080"):
        with pytest.raises(InputError, match="not an http"):
            check_api_url(bad)
    assert check_worker_command(SLEEPER, ["NBA"]) == SLEEPER
    script = tmp_path / "worker.sh"
    script.write_text("#!/bin/sh\n")
    with pytest.raises(InputError, match="not found or not executable"):
        check_worker_command(f"{script} {{league}}", ["NBA"])  # exists, not executable
    script.chmod(0o755)
    check_worker_command(f"{script} {{league}}", ["NBA"])
    with pytest.raises(InputError, match="unusable"):
        check_worker_command("worker {nope}", ["NBA"])
    with pytest.raises(InputError, match="nowhere-h24-NFL"):
        check_worker_command("nowhere-h24-{league}", ["NFL"])


@pytest.mark.parametrize(
    ("env", "args", "error"),
    [
        ({"WIREREPORT_K8S_API_URL": "not a url"}, ["--executor", "kubernetes"], "Kubernetes API URL 'not a url'"),
        ({}, ["--worker-cmd", "/nonexistent/bin x"], "worker program '/nonexistent/bin' not found"),
    ],
)
def test_scaler_exits_at_once_on_bad_settings(tmp_path, env, args, error):
    """One error line and exit 2 before any broker is contacted (the bootstrap points nowhere)."""
    run_env = {**os.environ, **env, "WIREREPORT_DATA_DIR": str(tmp_path), "WIREREPORT_KAFKA_BOOTSTRAP": "127.0.0.1:9"}
    done = subprocess.run(
        [sys.executable, "-m", "connectors.cli.main", "scaler", *args],
        env=run_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1  # one line, no traceback
    assert done.stderr.startswith(f"wirereport: error: {error}")
