"""The metrics agent reports the league's real worker processes (started by the local scaler's executor),
and an error while sampling stops it only after what was sampled before reached the broker."""

from __future__ import annotations

import socket
import subprocess
import sys
import uuid
from datetime import UTC, datetime

import pytest

from connectors.effectors.scaling.executors import LocalProcessExecutor
from connectors.exceptions import InputError
from connectors.kafka.edge import consume_records
from connectors.sources.metrics.agent import MetricsAgent
from connectors.sources.metrics.workload import Reading, WorkerCount
from connectors.testing import wait_until
from schemas.codec import get_codec


def test_worker_count_follows_the_local_executor(tmp_path):
    executor = LocalProcessExecutor(stop_timeout=5)
    # a look-alike that is no NFL worker (the league name only starts the same)
    decoy = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)", "agent-worker", "--league", "NFLX"],
        stdout=subprocess.DEVNULL,
    )
    # NFL and WNBA: the end-to-end scaling test runs NBA workers
    nfl, wnba = WorkerCount("NFL"), WorkerCount("WNBA")
    agent = MetricsAgent(
        "nfl-1",
        "NFL",
        "127.0.0.1:1",  # never reached: only sampling is tested here
        tmp_path,
        workload=lambda: Reading(1.0),
        active_agents=nfl,
        sampler=lambda: {"cpu_percent": 1.0, "memory_percent": 1.0, "disk_percent": 1.0},
    )
    try:
        assert nfl() == 0
        executor.scale("NFL", 3)
        executor.scale("WNBA", 1)
        assert wait_until(lambda: nfl() == 3 and wnba() == 1, 20)
        record = agent.sample()
        assert record["active_agents"] == 3 and record["host"] == socket.gethostname()
        _, queued = get_codec().decode(agent.buffer.peek(1)[0][1], ("SystemMetrics",))
        assert queued["active_agents"] == 3  # what goes to Kafka
        executor.scale("NFL", 1)
        assert wait_until(lambda: nfl() == 1, 20)
        assert agent.sample()["active_agents"] == 1
        executor.scale("NFL", 0)
        assert wait_until(lambda: nfl() == 0, 20)
        assert wnba() == 1
    finally:
        executor.close()
        decoy.kill()
        decoy.wait()
        agent.close()


def test_a_bad_worker_pattern_is_an_input_error():
    with pytest.raises(InputError, match="regular expression"):
        WorkerCount("NBA", "agent-worker (")


def test_an_error_while_sampling_is_raised_after_the_samples_before_it_are_sent(broker, tmp_path):
    server_id = f"err-{uuid.uuid4().hex[:8]}"

    def readings():
        for i in range(3):
            yield Reading(float(i), datetime(2026, 1, 1, 0, i, tzinfo=UTC), 60.0)
        raise InputError("trace.jsonl:4: workload nan is not a number")  # what a line changed after the check does

    agent = MetricsAgent(
        server_id,
        "NBA",
        broker,
        tmp_path,
        workload=readings(),
        speed=6000.0,
        sampler=lambda: {"cpu_percent": 1.0, "memory_percent": 1.0, "disk_percent": 1.0},
    )
    try:
        with pytest.raises(InputError, match=r"trace\.jsonl:4"):
            agent.run()
        assert (agent.samples, agent.sender.sent, len(agent.buffer)) == (3, 3, 0)
    finally:
        agent.close()
    sent = [r for _, r in consume_records(broker, "system-metrics", timeout=2.0) if r["server_id"] == server_id]
    assert [(r["workload"], r["observed_at"].minute) for r in sent] == [(0.0, 0), (1.0, 1), (2.0, 2)]
