"""The metrics agent loses no sample while the broker is down ~30 s, and sends the backlog in order."""

from __future__ import annotations

import json
import time

from connectors.admin import create_topics
from connectors.broker import EmbeddedBroker, free_port
from connectors.edge import consume_records
from connectors.testing import WirereportProcess, wait_until


def _trace(path, n):
    t0 = 1_700_000_000
    with open(path, "w") as fh:
        for i in range(n):
            at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t0 + 300 * i))
            fh.write(json.dumps({"league": "NBA", "observed_at": at, "workload": float(i)}) + "\n")
    return [float(i) for i in range(n)]


def _workloads(bootstrap, expected_at_least, timeout=20.0, limit=None):
    got: list[float] = []

    def enough():
        records = consume_records(bootstrap, "system-metrics", timeout=2.0, max_messages=limit)
        got[:] = [r["workload"] for _, r in records]
        return len(got) >= expected_at_least

    wait_until(enough, timeout, interval=0.5)
    return got


def test_broker_outage_loses_no_sample(tmp_path):
    n = 175
    trace = _trace(tmp_path / "load.jsonl", n)
    port = free_port()
    broker = EmbeddedBroker(port).start()
    try:
        create_topics(broker.bootstrap)
        # 5-minute samples at 1500x: one sample every 0.2 s, 40 s in all
        args = ["agent", "--server-id", "srv-1", "--league", "NBA", "--replay", str(tmp_path / "load.jsonl")]
        with WirereportProcess([*args, "--speed", "1500"], bootstrap=broker.bootstrap) as agent:
            agent.wait_for_output("agent ready")
            before = _workloads(broker.bootstrap, 10, limit=10)
            broker.stop()  # the in-memory broker loses everything it had
            stopped = time.monotonic()
            agent.wait_for_output("broker unreachable", timeout=30)
            time.sleep(max(0.0, 30 - (time.monotonic() - stopped)))  # down for 30 s
            broker = EmbeddedBroker(port).start()
            create_topics(broker.bootstrap)
            agent.wait_for_output(f"all {n} sample(s) sent", timeout=90)
            assert "broker reachable again" in agent.output
        after = _workloads(broker.bootstrap, 1)
    finally:
        broker.stop()
    assert before == trace[:10]
    # everything produced during and after the outage arrived, once each, in order
    first = int(after[0])
    assert 10 <= first < n - 100  # the samples of the ~30 s outage (150 of them) are all there
    assert after == trace[first:]
