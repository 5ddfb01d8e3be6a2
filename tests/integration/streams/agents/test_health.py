"""The health agent in a real worker: metrics in; alerts, server health and remediation commands out."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from connectors.kafka.admin import create_topics
from connectors.kafka.broker import EmbeddedBroker, free_port
from connectors.kafka.edge import EdgeProducer, consume_records
from connectors.testing import WirereportProcess, wait_until


@pytest.fixture
def own_broker():
    with EmbeddedBroker(free_port()) as broker:
        create_topics(broker.bootstrap)
        yield broker.bootstrap
        broker.process.kill()
        broker.process.wait()


def test_worker_fires_alerts_remediates_and_detects_silence(own_broker, tmp_path):
    start = datetime.now(UTC) - timedelta(minutes=10)  # old samples: replayed, they do not look "down"
    samples = [
        {
            "server_id": "nba-7",
            "league": "NBA",
            "observed_at": start + timedelta(seconds=2 * i),
            "cpu_percent": 97.0 if i >= 3 else 20.0,
            "memory_percent": 40.0,
            "disk_percent": 50.0,
            "workload": 1.0,
        }
        for i in range(40)
    ]
    with EdgeProducer(own_broker) as producer:
        for s in samples:
            producer.send("system-metrics", s)
        producer.send_raw("system-metrics", b"nba-7", b"garbage")
        # a NaN workload decodes fine but would poison the league's forecasts: a dead letter, not a sample
        producer.send("system-metrics", {**samples[5], "observed_at": samples[5]["observed_at"], "workload": math.nan})
    env = {"WIREREPORT_APP_ID": "it-health", "WIREREPORT_DATA_DIR": str(tmp_path)}
    with WirereportProcess(["worker"], bootstrap=own_broker, env=env) as worker:
        worker.wait_for_output("worker ready", timeout=60)

        def alerts_once_down():
            got = [
                (r["alertname"], r["severity"], r["status"])
                for _, r in consume_records(own_broker, "alerts", timeout=1)
            ]
            return got if ("ServerDown", "critical", "firing") in got else None

        got = wait_until(alerts_once_down, 40)
    assert got.count(("HighCpu", "critical", "firing")) == 1
    assert ("HighCpu", "warning", "firing") not in got  # 100 s of load: only the 1-minute critical rule fired
    actions = sorted(r["action"] for _, r in consume_records(own_broker, "remediation-commands", timeout=1))
    assert actions == ["restart_process", "shed_load"]  # no scale-up at 97% CPU: the scaling policy cuts there
    health = [r for _, r in consume_records(own_broker, "server-health", timeout=1) if r["server_id"] == "nba-7"]
    assert health[-1]["status"] == "down" and health[-1]["cpu_percent"] == 97.0
    letters = [r for _, r in consume_records(own_broker, "dead-letters", timeout=1)]
    # the garbage and the NaN sample went to dead letters once each (only the topic's main reader reports them)
    assert [r["source_topic"] for r in letters] == ["system-metrics"] * 2
    assert "workload nan is not a finite non-negative number" in letters[1]["reason"]
    forecasts = [r for _, r in consume_records(own_broker, "load-forecasts", timeout=1)]
    assert forecasts and all(math.isfinite(r["forecast"]) for r in forecasts)  # the scaling agent skipped it
