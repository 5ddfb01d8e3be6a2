"""The metrics agent loses no sample while the broker is down ~30 s and sends the backlog in order; a bad replay
line is one error line and exit 2; a counter reading NaN is never sent, nor a 0 after a start."""

from __future__ import annotations

import json
import math
import os
import signal
import threading
import time

from connectors.kafka.admin import create_topics
from connectors.kafka.broker import EmbeddedBroker, free_port
from connectors.kafka.edge import consume_records
from connectors.testing import WirereportProcess, wait_until

T0 = 1_700_000_000


def _trace(path, n):
    with open(path, "w") as fh:
        for i in range(n):
            at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(T0 + 300 * i))
            fh.write(json.dumps({"league": "NBA", "observed_at": at, "workload": float(i)}) + "\n")
    return [(T0 + 300 * i, float(i)) for i in range(n)]


def _samples(bootstrap, server_id="srv-1", limit=None):
    """What system-metrics holds (until 2 s without a new message, or ``limit`` messages): (epoch s, workload)."""
    records = consume_records(bootstrap, "system-metrics", timeout=2.0, max_messages=limit)
    return [(int(r["observed_at"].timestamp()), r["workload"]) for _, r in records if r["server_id"] == server_id]


def test_broker_outage_loses_no_sample(tmp_path):
    n = 175
    trace = _trace(tmp_path / "load.jsonl", n)
    port = free_port()
    broker = EmbeddedBroker(port).start()
    try:
        create_topics(broker.bootstrap)
        # 5-minute samples at 1500x: one sample every 0.2 s, 35 s in all
        args = ["agent", "--server-id", "srv-1", "--league", "NBA", "--replay", str(tmp_path / "load.jsonl")]
        with WirereportProcess([*args, "--speed", "1500"], bootstrap=broker.bootstrap) as agent:
            agent.wait_for_output("agent ready")
            wait_until(lambda: len(_samples(broker.bootstrap, limit=10)) >= 10, 20, interval=0.5)
            # what the in-memory broker holds when it dies is lost with it: freeze the agent to read it all first
            agent.signal(signal.SIGSTOP)
            try:
                time.sleep(0.5)  # a request already on the wire is written (and its ack waits in the agent's socket)
                before = _samples(broker.bootstrap)
                broker.stop()
            finally:
                agent.signal(signal.SIGCONT)
            stopped = time.monotonic()
            agent.wait_for_output("broker unreachable", timeout=30)
            time.sleep(max(0.0, 30 - (time.monotonic() - stopped)))  # down for 30 s
            broker = EmbeddedBroker(port).start()
            create_topics(broker.bootstrap)
            agent.wait_for_output(f"all {n} sample(s) sent", timeout=90)
            assert "broker reachable again" in agent.output
        after = _samples(broker.bootstrap)
    finally:
        broker.stop()
    # every sample the agent took is in system-metrics once, in order: before the stop, or sent after it
    assert before + after == trace
    assert len(before) >= 10 and len(after) >= 100  # the ~30 s outage spanned 150 samples at 0.2 s each
    assert f"agent stopped: {n} sample(s) taken, {n} sent, 0 left on disk" in agent.output


def test_a_bad_replay_line_is_one_error_line_and_exit_2(tmp_path, broker):
    trace = tmp_path / "load.jsonl"
    _trace(trace, 20)
    with open(trace, "a") as fh:
        fh.write('{"league": "NBA", "observed_at": "2023-11-15T00:00:00Z", "workload": NaN}\n')
    args = ["agent", "--server-id", "bad-replay", "--league", "NBA", "--replay", str(trace), "--speed", "100000"]
    with WirereportProcess(args, bootstrap=broker) as agent:
        status = agent.process.wait(60)
        agent.stop()
    assert status == 2
    assert agent.output.strip().splitlines() == [f"wirereport: error: {trace}:21: workload nan is not a number"]
    assert _samples(broker, "bad-replay") == []  # checked before anything is sent: the file can be fixed and rerun


def test_a_line_gone_bad_during_a_replay_stops_the_agent_after_the_samples_before_it(tmp_path, broker):
    trace = tmp_path / "load.jsonl"
    expected = _trace(trace, 20)
    args = ["agent", "--server-id", "gone-bad", "--league", "NBA", "--replay", str(trace), "--speed", "3000"]
    with WirereportProcess(args, bootstrap=broker) as agent:  # 0.1 s a sample: 2 s in all
        agent.wait_for_output("agent ready")
        with open(trace, "a") as fh:  # after the up-front check: the sampling thread meets it
            fh.write('{"league": "NBA", "observed_at": "2023-11-15T02:00:00Z", "workload": -1}\n')
        status = agent.process.wait(60)
        agent.stop()
    assert status == 2 and "Traceback" not in agent.output
    lines = agent.output.strip().splitlines()
    assert lines[-2:] == [
        "agent stopped: 20 sample(s) taken, 20 sent, 0 left on disk",
        f"wirereport: error: {trace}:21: workload -1 is negative",
    ]
    assert _samples(broker, "gone-bad") == expected  # what came before the bad line is all there, in order


def test_a_counter_agent_never_sends_nan_nor_a_zero_after_a_start(tmp_path, broker):
    counter = tmp_path / "served.counter"
    counter.write_text("nan")
    stop = threading.Event()

    def league_server():  # a steadily counting server (atomic rewrites), after a bad start
        value = 1000
        while not stop.is_set():
            value += 5
            (tmp_path / "tmp").write_text(str(value))
            os.replace(tmp_path / "tmp", counter)
            stop.wait(0.02)

    server = threading.Thread(target=league_server)
    args = ["agent", "--server-id", "counter-1", "--league", "WNBA", "--workload-file", str(counter)]
    try:
        with WirereportProcess([*args, "--interval", "0.25", "--count", "8"], bootstrap=broker) as agent:
            # the server starts counting only once the agent has read its bad start (a loaded machine starts slowly)
            agent.wait_for_output("'nan' is not a finite non-negative number", timeout=60)
            time.sleep(0.5)  # a few more NaN readings: still one log line
            server.start()
            agent.wait_for_output("all 8 sample(s) sent", timeout=60)
            status = agent.process.wait(30)
    finally:
        stop.set()
        if server.is_alive():
            server.join()
    assert status == 0
    got = _samples(broker, "counter-1")
    assert len(got) == 8 and all(math.isfinite(w) and w >= 0 for _, w in got)  # never NaN
    assert got[0][1] > 0  # the first sample is a real rate, not the 0 of a first reading
    warnings = [line for line in agent.output.splitlines() if "'nan' is not a finite non-negative number" in line]
    assert len(warnings) == 1  # several NaN readings before the server counts: one log line
