"""Record ``metrics_recorded.jsonl``: real psutil samples of a simulated league server under a scripted load.

Run: ``.venv/bin/python connectors/sample_data/record_health_metrics.py OUT.jsonl`` (about 3 minutes).

The "league server" is one child process with a one-core quota that sleeps or burns CPU (a busy loop at a
duty cycle); its CPU is measured with ``psutil.Process.cpu_percent`` every 5 s (percent of its core; the
machine is shared, so system-wide CPU would measure other people's builds; the process runs SCHED_RR so
it gets its core). Memory and disk are the
machine's, from psutil. Time is compressed 6x: a sample every 5 s of real time is labelled 30 s after the
previous one (``observed_at`` and ``interval_seconds``, the last sample labelled about now), giving ~17
minutes at the 30 s cadence of the issue.
Phases (samples): idle, a one-sample spike, idle, sustained full load, idle, a reporting pause (samples
measured but not written), idle, ~80 % duty cycle, idle.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing as mp
import os
import sys
import time
from datetime import UTC, datetime, timedelta

import psutil

REAL_CADENCE = 5.0
COMPRESSION = 6.0
# (samples, duty cycle of the server process, reported?)
PHASES = [
    (3, 0.0, True),
    (1, 1.0, True),
    (3, 0.0, True),
    (7, 1.0, True),
    (4, 0.0, True),
    (4, 0.0, False),
    (2, 0.0, True),
    (6, 0.8, True),
    (4, 0.0, True),
]


def _server(duty: mp.Value) -> None:
    period = 0.1
    while True:
        d = duty.value
        if d <= 0:
            time.sleep(period)
            continue
        start = time.perf_counter()
        while time.perf_counter() - start < d * period:
            pass
        if d < 1.0:
            time.sleep((1.0 - d) * period)


def main(out_path: str) -> None:
    duty = mp.Value("d", 0.0)
    server = mp.Process(target=_server, args=(duty,), daemon=True)
    server.start()
    proc = psutil.Process(server.pid)
    # it must get its core on a busy shared machine: real-time round-robin if allowed, else a high priority
    try:
        os.sched_setscheduler(server.pid, os.SCHED_RR, os.sched_param(10))
    except (PermissionError, AttributeError):
        with contextlib.suppress(psutil.AccessDenied):
            proc.nice(-10)
    proc.cpu_percent(None)
    t0_real = time.time()
    total = sum(n for n, _, _ in PHASES) * REAL_CADENCE
    start_label = datetime.fromtimestamp(t0_real - total * (COMPRESSION - 1), UTC).replace(microsecond=0)
    last_label = start_label
    net0 = psutil.net_io_counters()
    with open(out_path, "w") as out:
        for samples, d, reported in PHASES:
            duty.value = d
            for _ in range(samples):
                time.sleep(REAL_CADENCE)
                cpu = proc.cpu_percent(None)
                label = start_label + timedelta(seconds=(time.time() - t0_real) * COMPRESSION)
                net = psutil.net_io_counters()
                if not reported:
                    continue
                interval = (label - last_label).total_seconds()
                sample = {
                    "server_id": "lab-nba-1",
                    "league": "NBA",
                    "observed_at": label.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                    "cpu_percent": round(min(cpu, 100.0), 1),
                    "memory_percent": psutil.virtual_memory().percent,
                    "disk_percent": psutil.disk_usage("/").percent,
                    "net_bytes_sent_per_s": round((net.bytes_sent - net0.bytes_sent) / interval, 1),
                    "net_bytes_recv_per_s": round((net.bytes_recv - net0.bytes_recv) / interval, 1),
                    "workload": d,
                    "active_agents": 1,
                    "interval_seconds": round(interval, 3),
                }
                net0, last_label = net, label
                out.write(json.dumps(sample) + "\n")
                out.flush()
    server.terminate()


if __name__ == "__main__":
    main(sys.argv[1])
