"""``wirereport agent``: samples a league server (psutil + the league's workload) and produces SystemMetrics.

Every sample goes first to a bounded on-disk queue (SQLite under ``data_dir``), then to Kafka in queue
order; a sample leaves the queue only once the broker acknowledged it. While the broker is unreachable
samples pile up on disk (the oldest are dropped beyond ``max_buffered``, with a warning) and are sent,
in order, when it returns -- also after the agent itself restarts.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shlex
import socket
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
from confluent_kafka import KafkaError, Producer

from connectors.exceptions import InputError
from schemas.codec import get_codec
from streams.topics import topic

log = logging.getLogger(__name__)

TOPIC = "system-metrics"


class DiskBuffer:
    """A bounded FIFO of encoded samples in SQLite (survives broker outages and agent restarts)."""

    def __init__(self, path: Path, max_items: int = 100_000):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.max_items = max_items
        self.dropped = 0
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS samples (seq INTEGER PRIMARY KEY AUTOINCREMENT, value BLOB)")

    def push(self, value: bytes) -> None:
        self._db.execute("INSERT INTO samples (value) VALUES (?)", (value,))
        excess = len(self) - self.max_items
        if excess > 0:
            self._db.execute(
                "DELETE FROM samples WHERE seq IN (SELECT seq FROM samples ORDER BY seq LIMIT ?)", (excess,)
            )
            self.dropped += excess
            log.warning("metrics buffer full: dropped the %d oldest sample(s)", excess)

    def peek(self, limit: int) -> list[tuple[int, bytes]]:
        return self._db.execute("SELECT seq, value FROM samples ORDER BY seq LIMIT ?", (limit,)).fetchall()

    def remove_through(self, seq: int) -> None:
        self._db.execute("DELETE FROM samples WHERE seq <= ?", (seq,))

    def __len__(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM samples").fetchone()[0]

    def close(self) -> None:
        self._db.close()


class OrderedSender:
    """Sends the buffer's samples in order; removes each prefix the broker acknowledged."""

    def __init__(self, bootstrap: str, buffer: DiskBuffer, key: bytes, batch: int = 500, timeout: float = 10.0):
        self.buffer = buffer
        self.key = key
        self.batch = batch
        self.timeout = timeout
        self.sent = 0
        self._spec = topic(TOPIC)
        rdkafka_log = logging.getLogger("connectors.metrics_agent.librdkafka")
        rdkafka_log.setLevel(logging.DEBUG if log.isEnabledFor(logging.DEBUG) else logging.CRITICAL)
        self._producer = Producer(
            {
                "bootstrap.servers": bootstrap,
                # the order is kept by sending one batch at a time and by one request in flight;
                # an idempotent producer cannot survive a broker that lost its state (in-memory Tansu)
                "enable.idempotence": False,
                "max.in.flight.requests.per.connection": 1,
                "message.timeout.ms": int(timeout * 1000),
                "linger.ms": 5,
                "reconnect.backoff.max.ms": 1000,
                "topic.metadata.refresh.interval.ms": 5000,
                "error_cb": lambda err: log.debug("kafka: %s", err.str()),
                "logger": rdkafka_log,
            }
        )

    def drain(self) -> bool:
        """Send everything buffered; True if the buffer is empty afterwards (the broker is reachable)."""
        while True:
            rows = self.buffer.peek(self.batch)
            if not rows:
                return True
            results: dict[int, KafkaError | None] = {}
            for seq, value in rows:
                self._produce(seq, value, results)
            self._producer.flush(self.timeout + 5)
            acked = None
            for seq, _ in rows:
                if results.get(seq, "pending") is not None:
                    break
                acked = seq
            if acked is not None:
                self.buffer.remove_through(acked)
                self.sent += sum(1 for seq, _ in rows if seq <= acked)
            if acked != rows[-1][0]:
                errors = [r for r in results.values() if r is not None]
                log.info("broker unavailable (%s); %d sample(s) buffered", errors[:1], len(self.buffer))
                return False

    def _produce(self, seq: int, value: bytes, results: dict) -> None:
        def on_delivery(err, _msg, seq=seq):
            results[seq] = err

        while True:
            try:
                self._producer.produce(self._spec.name, value=value, key=self.key, on_delivery=on_delivery)
                return
            except BufferError:
                self._producer.poll(0.1)


# -- workload sources --------------------------------------------------------------------------------
@dataclass
class Reading:
    """One workload reading: the rate, and the time it stands for (None = now)."""

    workload: float
    observed_at: datetime | None = None
    interval: float | None = None


class CounterWorkload:
    """Work units per second from a counter the league server increments (a file, or a command's output)."""

    def __init__(self, read_counter: Callable[[], float], clock: Callable[[], float] = time.monotonic):
        self.read_counter = read_counter
        self.clock = clock
        self._last: tuple[float, float] | None = None

    def __call__(self) -> Reading:
        now = self.clock()
        value = self.read_counter()
        last, self._last = self._last, (now, value)
        if last is None or now <= last[0] or value < last[1]:  # first reading, or the counter was reset
            return Reading(0.0)
        return Reading((value - last[1]) / (now - last[0]))


def counter_file(path: Path) -> Callable[[], float]:
    def read() -> float:
        try:
            return float(path.read_text().strip() or 0)
        except FileNotFoundError:
            return 0.0
        except ValueError:
            log.warning("%s does not hold a number", path)
            return 0.0

    return read


def counter_command(command: str) -> Callable[[], float]:
    args = shlex.split(command)

    def read() -> float:
        try:
            out = subprocess.run(args, capture_output=True, text=True, timeout=10, check=True).stdout
            return float(out.strip().split()[-1])
        except (OSError, subprocess.SubprocessError, ValueError, IndexError) as exc:
            log.warning("workload command failed: %s", exc)
            return 0.0

    return read


def replay_readings(path: Path, league: str) -> Iterator[Reading]:
    """The workloads of a LoadSample trace (only ``league``'s), with the trace's own timestamps."""
    from connectors.jsonl import read_jsonl
    from connectors.scaling.load_io import parse_sample

    previous = None
    for number, obj in read_jsonl(path):
        try:
            if isinstance(obj, Exception):
                raise obj
            sample = parse_sample(obj)
        except ValueError as exc:
            raise InputError(f"{path}:{number}: {exc}") from None
        if sample["league"] != league:
            continue
        interval = None if previous is None else sample["t"] - previous
        previous = sample["t"]
        yield Reading(sample["workload"], datetime.fromtimestamp(sample["t"], UTC), interval)


# -- worker processes --------------------------------------------------------------------------------
DEFAULT_WORKER_MATCH = r"\bagent-worker\b.*--league[= ]{league}\b"


class WorkerCount:
    """Running worker processes of a league on this host: command lines matching a regex (psutil).

    ``{league}`` in the pattern is replaced by the league; the default matches the workers the local
    scaler starts (``wirereport agent-worker --league L``). Zombies and this process are not counted.
    """

    def __init__(self, league: str, pattern: str = DEFAULT_WORKER_MATCH):
        try:
            self.regex = re.compile(pattern.replace("{league}", re.escape(league)))
        except re.error as exc:
            raise InputError(f"worker match {pattern!r} is not a regular expression: {exc}") from None
        self._own = os.getpid()

    def __call__(self) -> int:
        count = 0
        for proc in psutil.process_iter(["pid", "cmdline", "status"]):
            info = proc.info
            if info["pid"] == self._own or info["status"] == psutil.STATUS_ZOMBIE or not info["cmdline"]:
                continue
            if self.regex.search(" ".join(info["cmdline"])):
                count += 1
        return count


# -- the agent ---------------------------------------------------------------------------------------
class SystemSampler:
    """CPU, memory, disk and network rates of this machine (psutil)."""

    def __init__(self, disk_path: str = "/"):
        self.disk_path = disk_path
        psutil.cpu_percent(None)
        self._net = psutil.net_io_counters()
        self._net_at = time.monotonic()

    def __call__(self) -> dict[str, float]:
        net, at = psutil.net_io_counters(), time.monotonic()
        elapsed = max(at - self._net_at, 1e-6)
        sent = (net.bytes_sent - self._net.bytes_sent) / elapsed
        recv = (net.bytes_recv - self._net.bytes_recv) / elapsed
        self._net, self._net_at = net, at
        return {
            "cpu_percent": psutil.cpu_percent(None),
            "memory_percent": psutil.virtual_memory().percent,
            "disk_percent": psutil.disk_usage(self.disk_path).percent,
            "net_bytes_sent_per_s": max(sent, 0.0),
            "net_bytes_recv_per_s": max(recv, 0.0),
        }


class MetricsAgent:
    """Samples every ``interval`` seconds, buffers on disk, sends in order; ``run`` until stopped."""

    def __init__(
        self,
        server_id: str,
        league: str,
        bootstrap: str,
        data_dir: Path,
        *,
        interval: float = 30.0,
        workload: Callable[[], Reading] | Iterator[Reading],
        max_buffered: int = 100_000,
        active_agents: Callable[[], int] = lambda: 0,
        sampler: Callable[[], dict[str, float]] | None = None,
        speed: float | None = None,
        on_event: Callable[[str], None] = lambda line: None,
    ):
        self.server_id = server_id
        self.league = league
        self.interval = interval
        self.workload = workload
        self.active_agents = active_agents
        self.sampler = sampler or SystemSampler(str(data_dir) if data_dir.exists() else "/")
        self.buffer = DiskBuffer(data_dir / f"metrics-buffer-{server_id}.sqlite3", max_buffered)
        self.sender = OrderedSender(bootstrap, self.buffer, server_id.encode())
        self.codec = get_codec()
        self.on_event = on_event
        self.speed = speed
        self.host = socket.gethostname()
        self.samples = 0
        self.stopped = threading.Event()
        self._wake = threading.Event()
        self._sampling_done = False
        self._last_sample_at: float | None = None

    def sample(self) -> dict[str, Any] | None:
        """Take one sample and queue it; None when a replayed trace is exhausted."""
        if isinstance(self.workload, Iterator):
            reading = next(self.workload, None)
            if reading is None:
                return None
        else:
            reading = self.workload()
        now = time.monotonic()
        interval = reading.interval or (self.interval if self._last_sample_at is None else now - self._last_sample_at)
        self._last_sample_at = now
        record = {
            "server_id": self.server_id,
            "league": self.league,
            "observed_at": reading.observed_at or datetime.now(UTC),
            **self.sampler(),
            "workload": float(reading.workload),
            "active_agents": int(self.active_agents()),
            "interval_seconds": float(interval),
            "error_rate": None,
            "latency_ms": None,
            "version": None,
            "host": self.host,
        }
        self.buffer.push(self.codec.encode("SystemMetrics", record))
        self.samples += 1
        return record

    def run(self, count: int | None = None) -> int:
        """Sample and send until ``stop()`` (or ``count`` samples / the end of a replay); return samples taken.

        Sampling keeps its cadence whatever the broker does: a second thread drains the disk queue.
        """
        self.on_event(f"agent ready: server {self.server_id} league {self.league}, {len(self.buffer)} buffered")
        sender = threading.Thread(target=self._send_loop, name="metrics-sender", daemon=True)
        sender.start()
        next_at = time.monotonic()
        while not self.stopped.is_set():
            record = self.sample()
            if record is None:
                break
            self._wake.set()
            self.on_event(
                f"sample {self.samples} at {record['observed_at'].isoformat()} workload {record['workload']:.4g}"
                f" agents {record['active_agents']} sent {self.sender.sent} buffered {len(self.buffer)}"
            )
            if count is not None and self.samples >= count:
                break
            step = record["interval_seconds"] / self.speed if self.speed else self.interval
            next_at += step if self.samples > 1 or not self.speed else 0.0
            self.stopped.wait(max(0.0, next_at - time.monotonic()))
        self._sampling_done = True
        self._wake.set()
        while sender.is_alive() and not self.stopped.is_set():
            sender.join(0.5)  # finished sampling: wait for the backlog (until stopped)
        self.stopped.set()
        sender.join(30)
        return self.samples

    def _send_loop(self) -> None:
        online = True
        while not self.stopped.is_set():
            self._wake.wait(1.0)
            self._wake.clear()
            ok = self.sender.drain()
            if ok != online:
                self.on_event("broker reachable again, backlog sent" if ok else "broker unreachable, buffering on disk")
                online = ok
            if ok and self._sampling_done:
                self.on_event(f"all {self.sender.sent} sample(s) sent")
                return
            if not ok:
                self.stopped.wait(1.0)

    def stop(self) -> None:
        self.stopped.set()

    def close(self) -> None:
        self.buffer.close()


def describe(record: dict[str, Any]) -> str:
    return json.dumps({k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in record.items()})
