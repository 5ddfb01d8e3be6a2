"""Canary analysis on real signals, end to end: a healthy deployment completes, one with injected errors rolls back.

A tiny league server, kept in a real git repository (tags v1, v2-good, v3-bad), serves synthetic requests
(200 a second, counted by the program itself) and exports them on a loopback Prometheus endpoint:
``http_requests_total{status}``, the ``http_request_duration_seconds`` histogram and ``app_build_info{version}``
(read from the working copy's VERSION file). v3-bad's code answers 20 % of its requests with a 500 and is three
times slower. Real ``wirereport`` processes: ``supervisor`` runs the server; ``agent --app-metrics-url`` samples it
every 0.5 s; ``deploy-agent`` checks tags out and runs a restart command that stops the server (its supervisor
starts the checked-out version again) and returns once the new one serves; ``worker`` runs the deployment
manager on the embedded broker. The verdicts are recomputed from the samples the agent sent.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from connectors.kafka.edge import assigned_consumer
from connectors.testing import WirereportProcess, running_broker, wait_until
from schemas.codec import get_codec
from schemas.json_form import parse_timestamp
from streams.deployments.canary_analysis import CanaryPolicy, analyze_canary, epoch_ms, sample_of, split_samples
from streams.topics import topic

GIT_ENV = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")} | {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.com",
}
MIN_SAMPLES = 10
PROCESS_ENV = {
    "WIREREPORT_DEPLOY_WINDOWS": "Mon-Sun 00:00-24:00 UTC",
    "WIREREPORT_DEPLOY_CANARY_BAKE_SECONDS": "6",
    "WIREREPORT_DEPLOY_CANARY_MIN_SAMPLES": str(MIN_SAMPLES),
}
POLICY = CanaryPolicy(min_samples=MIN_SAMPLES)  # the worker's, from PROCESS_ENV and the defaults
BASELINE_MS = 3600 * 1000  # deploy_canary_baseline_seconds' default

LEAGUE_SERVER = '''"""League server: serves synthetic requests and exports them as Prometheus metrics."""

import os
import random
import sys
import time
from pathlib import Path

from prometheus_client import Counter, Gauge, Histogram, start_http_server

ERROR_RATE = {error_rate}
LATENCY_SECONDS = {latency}


def write(path, text):
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def main(port, work_counter, pid_file):
    version = (Path(__file__).parent / "VERSION").read_text().strip()
    requests = Counter("http_requests", "Requests served.", ["status"])
    duration = Histogram("http_request_duration_seconds", "Request time.")
    Gauge("app_build_info", "The running build.", ["version"]).labels(version).set(1)
    counter = Path(work_counter)
    served = int(counter.read_text()) if counter.exists() else 0  # the work done goes on across restarts
    start_http_server(port, addr="127.0.0.1")
    write(Path(pid_file), str(os.getpid()))  # serving from now on
    rnd = random.Random()
    while True:
        for _ in range(10):
            requests.labels("500" if rnd.random() < ERROR_RATE else "200").inc()
            duration.observe(max(rnd.gauss(LATENCY_SECONDS, LATENCY_SECONDS / 5), 0.001))
        served += 10
        write(counter, str(served))
        time.sleep(0.05)


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2], sys.argv[3])
'''

# stops the server; its supervisor starts the checked-out version again; returns once that one serves
RESTART = """#!/bin/sh
old=$(cat "$1")
kill "$old" || exit 1
i=0
while [ "$(cat "$1" 2>/dev/null)" = "$old" ]; do
  i=$((i + 1)); [ "$i" -gt 300 ] && { echo "league server did not come back" >&2; exit 1; }
  sleep 0.1
done
"""


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=repo, env=GIT_ENV, check=True, capture_output=True, text=True)
    return done.stdout.strip()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def served_version(url: str) -> str | None:
    """The version label of ``app_build_info`` on the server's /metrics."""
    for family in text_string_to_metric_families(httpx.get(url, timeout=2).text):
        for sample in family.samples:
            if sample.name == "app_build_info" and sample.value == 1:
                return sample.labels["version"]
    return None


def release(origin: Path, version: str, error_rate: float, latency: float) -> None:
    (origin / "VERSION").write_text(f"{version}\n")
    (origin / "league_server.py").write_text(LEAGUE_SERVER.format(error_rate=error_rate, latency=latency))
    git(origin, "add", "VERSION", "league_server.py")
    git(origin, "commit", "-q", "-m", f"release {version}")
    git(origin, "tag", version)


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

    def wait_for(self, predicate, what: str, timeout: float = 60) -> dict:
        return wait_until(lambda: next((r for r in self.poll() if predicate(r)), None), timeout=timeout, message=what)

    def close(self) -> None:
        self.consumer.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One league server s1 at v1 under its supervisor, its metrics agent, its deploy agent, and the worker."""
    root = tmp_path_factory.mktemp("canary")
    origin, repo = root / "origin", root / "s1"
    origin.mkdir()
    git(origin, "init", "-q", "-b", "main")
    release(origin, "v1", error_rate=0.005, latency=0.040)
    release(origin, "v2-good", error_rate=0.005, latency=0.040)
    release(origin, "v3-bad", error_rate=0.20, latency=0.120)
    git(root, "clone", "-q", str(origin), str(repo))
    git(repo, "checkout", "-q", "--detach", "v1")
    (root / "restart.sh").write_text(RESTART)
    port, pid_file, work_counter = free_port(), root / "s1.pid", root / "s1.work"
    url = f"http://127.0.0.1:{port}/metrics"
    with running_broker() as bootstrap:
        processes, watch = [], {}
        try:
            server_cmd = [sys.executable, str(repo / "league_server.py"), str(port), str(work_counter), str(pid_file)]
            supervisor = WirereportProcess(
                ["supervisor", "--server-id", "s1", "--", *server_cmd], bootstrap=bootstrap, env=PROCESS_ENV
            ).start()
            processes.append(supervisor)
            agent = WirereportProcess(
                [
                    "agent",
                    "--server-id",
                    "s1",
                    "--league",
                    "NBA",
                    "--interval",
                    "0.5",
                    "--workload-file",
                    str(work_counter),
                    "--app-metrics-url",
                    url,
                ],
                bootstrap=bootstrap,
                env=PROCESS_ENV,
            ).start()
            processes.append(agent)
            deploy_agent = WirereportProcess(
                [
                    "deploy-agent",
                    "--server-id",
                    "s1",
                    "--repo",
                    str(repo),
                    "--restart-cmd",
                    f"sh {root}/restart.sh {pid_file}",
                ],
                bootstrap=bootstrap,
                env=PROCESS_ENV,
            ).start()
            processes.append(deploy_agent)
            worker = WirereportProcess(
                ["worker"], bootstrap=bootstrap, env={**PROCESS_ENV, "WIREREPORT_APP_ID": "canary-e2e"}
            ).start()
            processes.append(worker)
            supervisor.wait_for_output("supervisor ready", timeout=60)
            agent.wait_for_output("agent ready", timeout=60)
            deploy_agent.wait_for_output("deploy agent ready", timeout=60)
            worker.wait_for_output("worker ready", timeout=90)
            names = ("deployment-state", "deployment-manager-feed")
            watch = {name: TopicWatch(bootstrap, name) for name in names}
            yield {
                "bootstrap": bootstrap,
                "repo": repo,
                "url": url,
                "watch": watch,
                "supervisor": supervisor,
                "deploy_agent": deploy_agent,
            }
        finally:
            for w in watch.values():
                w.close()
            for p in processes[:3]:  # the edge processes: Ctrl-C, in parallel
                p.signal(signal.SIGINT)
            if len(processes) > 3:
                processes[3].kill()  # the worker's graceful shutdown takes seconds and is not under test here
            for p in processes:
                p.stop()
            if pid_file.exists():  # a supervisor that did not stop its child: never leave a server behind
                with contextlib.suppress(ProcessLookupError, ValueError):
                    os.kill(int(pid_file.read_text()), signal.SIGKILL)


def request(bootstrap: str, deployment_id: str, version: str) -> None:
    cli = WirereportProcess(
        [
            "deploy",
            "request",
            "--version",
            version,
            "--league",
            "NBA",
            "--targets",
            "s1",
            "--deployment-id",
            deployment_id,
        ],
        bootstrap=bootstrap,
    ).start()
    assert cli.process.wait(60) == 0, cli.output
    cli.stop()
    assert f"requested deployment {deployment_id}" in cli.output


def final_state(watch, deployment_id: str, phase: str) -> dict:
    return watch["deployment-state"].wait_for(
        lambda s: (s["deployment_id"], s["phase"]) == (deployment_id, phase), f"{deployment_id} never {phase}"
    )


def recomputed_verdict(watch, state: dict) -> dict:
    """The canary analysis of the agent's samples around the deployment, as the worker forwarded them to the
    manager (those with an error rate, a latency or a version: not the all-null ones of the restart's outage).

    The manager judged the canary with the samples it had then: every baseline sample and the first
    ``samples_after`` ones after the deploy was applied."""
    metrics = [r for r in watch["deployment-manager-feed"].poll() if r.get("server_id") == "s1" and "cpu_percent" in r]
    samples = sorted((sample_of(m) for m in metrics), key=lambda s: s[0])
    before, after = split_samples(
        samples,
        decided_at_ms=epoch_ms(parse_timestamp(state["canary_decided_at"])),
        applied_at_ms=epoch_ms(parse_timestamp(state["canary_applied_at"])),
        baseline_ms=BASELINE_MS,
        new_version=state["version"],
    )
    return analyze_canary(before, after[: state["canary"]["samples_after"]], POLICY)


def test_healthy_version_completes_and_injected_errors_roll_back_on_real_signals(server):
    bootstrap, repo, url, watch = server["bootstrap"], server["repo"], server["url"], server["watch"]
    assert served_version(url) == "v1"

    # a baseline on v1: samples with a measured error rate and latency have reached the manager
    def baseline() -> bool:
        rated = [
            r
            for r in watch["deployment-manager-feed"].poll()
            if r.get("server_id") == "s1" and r.get("error_rate") is not None and r.get("latency_ms") is not None
        ]
        return len(rated) >= MIN_SAMPLES + 2

    wait_until(baseline, timeout=60, message="no baseline of rated v1 samples on the manager's feed")

    # 1. v2-good: the canary passes on the measured signals, the deployment completes
    request(bootstrap, "dep-good", "v2-good")
    state = final_state(watch, "dep-good", "completed")
    verdict = state["canary"]
    assert verdict["verdict"] == "pass", verdict
    assert verdict == recomputed_verdict(watch, state)
    assert verdict["samples_before"] >= MIN_SAMPLES and verdict["samples_after"] >= MIN_SAMPLES
    assert verdict["error_rate_p"] is not None and verdict["latency_p"] is not None  # both signals tested
    assert 0.0 <= verdict["error_rate_before"] < 0.02 and 0.0 <= verdict["error_rate_after"] < 0.02
    assert 35 < verdict["latency_before_ms"] < 45 and 35 < verdict["latency_after_ms"] < 45
    assert state["previous_version"] == "v1"
    assert served_version(url) == "v2-good"
    assert git(repo, "describe", "--tags", "--exact-match") == "v2-good"

    # 2. v3-bad: 20 % errors and 3x the latency on the canary: a regression, rolled back to v2-good
    request(bootstrap, "dep-bad", "v3-bad")
    state = final_state(watch, "dep-bad", "rolled_back")
    verdict = state["canary"]
    assert verdict["verdict"] == "regression", verdict
    assert verdict == recomputed_verdict(watch, state)
    assert "regression: error rate" in state["reason"] and "median latency" in state["reason"]
    assert verdict["error_rate_p"] < POLICY.alpha / 2 and verdict["latency_p"] < POLICY.alpha / 2
    assert verdict["error_rate_before"] < 0.02 and 0.1 < verdict["error_rate_after"] < 0.3
    assert 35 < verdict["latency_before_ms"] < 45 and 100 < verdict["latency_after_ms"] < 140
    assert [(s["server_id"], s["status"]) for s in state["servers"]] == [("s1", "rolled_back")]
    server["deploy_agent"].wait_for_output("rolled_back dep-bad on s1")
    assert git(repo, "describe", "--tags", "--exact-match") == "v2-good"
    assert served_version(url) == "v2-good"  # the restart command returned once the previous version served
    assert server["supervisor"].output.count("restarted league-server") == 3  # v2-good, v3-bad, v2-good again
