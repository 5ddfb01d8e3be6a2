"""``wirereport agent``: samples a league server (psutil + the league's workload) and produces SystemMetrics.

Every sample goes first to a bounded on-disk queue (SQLite under ``data_dir``), then to Kafka in queue
order; a sample leaves the queue only once the broker acknowledged it. While the broker is unreachable
samples pile up on disk (the oldest are dropped beyond ``max_buffered``, with a warning) and are sent,
in order, when it returns -- also after the agent itself restarts.

A workload is sent only when it is a real rate: finite and >= 0. A counter-based agent sends its first sample
one interval after it starts (the first counter reading has no rate yet), and a tick whose counter reading is
unusable (missing file, not a number, NaN, infinite, negative, or the counter went back) sends NO sample:
the schema's workload cannot be left out, and a 0 would be a false dip in the league's sum, while the
worker's per-server mean over an interval is unaffected by one missing sample. Bad readings are logged,
one line, at most once a minute per kind.
"""

from __future__ import annotations

import json
import logging
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
from confluent_kafka import KafkaError, Producer

from connectors.kafka.edge import librdkafka_logger
from connectors.observability.process_metrics import ProcessMetrics
from connectors.sources.metrics.app_signals import NO_SIGNALS, AppSignals
from connectors.sources.metrics.workload import Reading, ThrottledWarning
from schemas.codec import get_codec
from streams.exceptions import InvalidRecord
from streams.health.system_metrics import validate_metrics
from streams.runtime.kafka_security import confluent_security_config
from streams.settings import get_settings
from streams.topics import topic

log = logging.getLogger(__name__)

TOPIC = "system-metrics"


class DiskBuffer:
    """A bounded FIFO of encoded samples in SQLite (survives broker outages and agent restarts).

    The sampling and the sending thread share one connection: every access holds ``_lock``. After
    ``close()`` it reads as empty and acknowledgements are ignored (they are resent on the next start).
    """

    def __init__(self, path: Path, max_items: int = 100_000):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.max_items = max_items
        self.dropped = 0
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS samples (seq INTEGER PRIMARY KEY AUTOINCREMENT, value BLOB)")
        self._count = self._db.execute("SELECT COUNT(*) FROM samples").fetchone()[0]

    def push(self, value: bytes) -> None:
        with self._lock:
            if self._db is None:
                raise RuntimeError(f"metrics buffer {self.path} is closed")
            self._db.execute("INSERT INTO samples (value) VALUES (?)", (value,))
            self._count += 1
            excess = self._count - self.max_items
            if excess > 0:
                self._db.execute(
                    "DELETE FROM samples WHERE seq IN (SELECT seq FROM samples ORDER BY seq LIMIT ?)", (excess,)
                )
                self._count -= excess
                self.dropped += excess
        if excess > 0:
            log.warning("metrics buffer full: dropped the %d oldest sample(s)", excess)

    def peek(self, limit: int) -> list[tuple[int, bytes]]:
        with self._lock:
            if self._db is None:
                return []
            return self._db.execute("SELECT seq, value FROM samples ORDER BY seq LIMIT ?", (limit,)).fetchall()

    def remove_through(self, seq: int) -> None:
        with self._lock:
            if self._db is not None:
                self._count -= self._db.execute("DELETE FROM samples WHERE seq <= ?", (seq,)).rowcount

    def __len__(self) -> int:
        with self._lock:
            return self._count if self._db is not None else 0

    def close(self) -> None:
        with self._lock:
            db, self._db = self._db, None
            if db is not None:
                db.close()


class OrderedSender:
    """Sends the buffer's samples in order; removes each prefix the broker acknowledged."""

    def __init__(self, bootstrap: str, buffer: DiskBuffer, key: bytes, batch: int = 500, timeout: float = 10.0):
        self.buffer = buffer
        self.key = key
        self.batch = batch
        self.timeout = timeout
        self.sent = 0
        self._spec = topic(TOPIC)
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
                "logger": librdkafka_logger(),  # librdkafka's lines at DEBUG: no "Connection refused" flood
                **confluent_security_config(get_settings()),
            }
        )

    def drain(self, stop: threading.Event | None = None) -> bool:
        """Send everything buffered (batch by batch until ``stop`` is set); True if the buffer is empty after."""
        while True:
            if stop is not None and stop.is_set():
                return False
            rows = self.buffer.peek(self.batch)
            if not rows:
                return True
            results: dict[int, KafkaError | None] = {}
            for seq, value in rows:
                self._produce(seq, value, results)
            deadline = time.monotonic() + self.timeout + 5
            while self._producer.flush(0.5) and time.monotonic() < deadline:
                if stop is not None and stop.is_set():  # stopping: what is not acknowledged stays on disk
                    self._producer.purge()
                    self._producer.poll(0)
                    break
            acked = None
            for seq, _ in rows:
                if results.get(seq, "pending") is not None:
                    break
                acked = seq
            if acked is not None:
                self.buffer.remove_through(acked)
                self.sent += sum(1 for seq, _ in rows if seq <= acked)
            if acked != rows[-1][0]:
                if stop is None or not stop.is_set():
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


# -- the agent ---------------------------------------------------------------------------------------
class SystemSampler:
    """CPU, memory, disk and network rates of this machine (psutil).

    ``cpu_percent`` is the average since the previous reading; the sampler primes psutil when it is created,
    and a first reading taken less than ``min_cpu_window`` s after that waits for the rest of the window, so
    the first value is a real average too (not the 0/50/100 of a few microseconds).
    """

    def __init__(
        self,
        disk_path: str = "/",
        *,
        min_cpu_window: float = 0.5,
        cpu_percent: Callable[[float | None], float] = psutil.cpu_percent,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.disk_path = disk_path
        self.min_cpu_window = min_cpu_window
        self._cpu_percent = cpu_percent
        self._clock = clock
        self._sleep = sleep
        self._cpu_percent(None)  # primes psutil: the next call averages over the time since now
        self._cpu_at = clock()
        self.cpu_window: float | None = None  # seconds the last cpu_percent was averaged over
        self._net = psutil.net_io_counters()
        self._net_at = clock()

    def cpu(self) -> float:
        """CPU percent averaged since the previous call (at least ``min_cpu_window`` s after the priming one)."""
        if self.cpu_window is None:
            rest = self.min_cpu_window - (self._clock() - self._cpu_at)
            if rest > 0:
                self._sleep(rest)
        value, at = self._cpu_percent(None), self._clock()
        self.cpu_window, self._cpu_at = at - self._cpu_at, at
        return value

    def __call__(self) -> dict[str, float]:
        cpu = self.cpu()
        net, at = psutil.net_io_counters(), self._clock()
        elapsed = max(at - self._net_at, 1e-6)
        sent = (net.bytes_sent - self._net.bytes_sent) / elapsed
        recv = (net.bytes_recv - self._net.bytes_recv) / elapsed
        self._net, self._net_at = net, at
        return {
            "cpu_percent": cpu,
            "memory_percent": psutil.virtual_memory().percent,
            "disk_percent": psutil.disk_usage(self.disk_path).percent,
            "net_bytes_sent_per_s": max(sent, 0.0),
            "net_bytes_recv_per_s": max(recv, 0.0),
        }


class MetricsAgent:
    """Samples every ``interval`` seconds, buffers on disk, sends in order; ``run`` until stopped.

    An error while sampling (e.g. a bad replay line) or sending stops the agent: ``run`` gives the sender
    one more chance to send what was sampled before it (the rest stays on disk), then raises the error.
    """

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
        app_signals: Callable[[], AppSignals] | None = None,
        metrics: ProcessMetrics | None = None,
        on_broker: Callable[[bool], None] = lambda reachable: None,
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
        self.app_signals = app_signals
        self.metrics = metrics
        self.on_broker = on_broker
        self.speed = speed
        self.host = socket.gethostname()
        self.samples = 0
        self.skipped = 0
        self.exhausted = False
        self.stopped = threading.Event()
        self.warn = ThrottledWarning(logger=log)
        self._wake = threading.Event()
        self._sampling_done = False
        self._send_error: Exception | None = None
        self._last_sample_at: float | None = None

    def sample(self) -> dict[str, Any] | None:
        """Take one sample and queue it; None when there is none this tick (see ``skipped``/``exhausted``)."""
        if isinstance(self.workload, Iterator):
            reading = next(self.workload, None)
            if reading is None:
                self.exhausted = True
                return None
        else:
            reading = self.workload()
        if reading.workload is None:
            return self._skip(reading.skipped or "no workload reading")
        signals = self.app_signals() if self.app_signals is not None else NO_SIGNALS
        now = time.monotonic()
        interval = reading.interval or (self.interval if self._last_sample_at is None else now - self._last_sample_at)
        record = {
            "server_id": self.server_id,
            "league": self.league,
            "observed_at": reading.observed_at or datetime.now(UTC),
            "net_bytes_sent_per_s": 0.0,
            "net_bytes_recv_per_s": 0.0,
            **self.sampler(),
            "workload": float(reading.workload),
            "active_agents": int(self.active_agents()),
            "interval_seconds": float(interval),
            "error_rate": signals.error_rate,
            "latency_ms": signals.latency_ms,
            "version": signals.version,
            "host": self.host,
        }
        try:
            validate_metrics(record)  # the worker's own check: never send what it would reject
        except InvalidRecord as exc:
            self.warn("invalid", f"{exc}; sample not sent")
            return self._skip(str(exc))
        self.buffer.push(self.codec.encode("SystemMetrics", record))
        self._last_sample_at = now
        self.samples += 1
        if self.metrics is not None:
            self.metrics.agent_samples.labels("taken").inc()
        return record

    def _skip(self, reason: str) -> None:
        self.skipped += 1
        if self.metrics is not None:
            self.metrics.agent_samples.labels("skipped").inc()
        self.on_event(f"sample skipped: {reason}")
        return None

    def run(self, count: int | None = None) -> int:
        """Sample and send until ``stop()`` (or ``count`` samples / the end of a replay); return samples taken.

        Sampling keeps its cadence whatever the broker does: a second thread drains the disk queue.
        """
        self.on_event(f"agent ready: server {self.server_id} league {self.league}, {len(self.buffer)} buffered")
        sender = threading.Thread(target=self._send_loop, name="metrics-sender", daemon=True)
        sender.start()
        error: Exception | None = None
        try:
            self._sample_loop(count)
        except Exception as exc:  # raised below, in the caller's thread, once the backlog had its chance
            error = exc
        self._sampling_done = True
        self._wake.set()
        if error is None:
            while sender.is_alive() and not self.stopped.is_set():
                sender.join(0.5)  # finished sampling: wait for the backlog (until stopped)
        else:
            sender.join(self.sender.timeout + 5)  # one try to send what came before the error
        self.stopped.set()
        sender.join(30)
        if error is None:
            error = self._send_error
        if error is not None:
            raise error
        return self.samples

    def _sample_loop(self, count: int | None) -> None:
        next_at = time.monotonic()
        while not self.stopped.is_set():
            record = self.sample()
            if record is None:
                if self.exhausted:
                    return
                step = 0.0 if self.speed else self.interval  # a replay has no cadence of its own to keep
            else:
                self._wake.set()
                self.on_event(
                    f"sample {self.samples} at {record['observed_at'].isoformat()} workload {record['workload']:.4g}"
                    f" agents {record['active_agents']} sent {self.sender.sent} buffered {len(self.buffer)}"
                )
                if count is not None and self.samples >= count:
                    return
                step = record["interval_seconds"] / self.speed if self.speed else self.interval
                if self.speed and self.samples == 1:
                    step = 0.0  # the first replayed sample has no trace interval before it
            next_at += step
            self.stopped.wait(max(0.0, next_at - time.monotonic()))

    def _send_loop(self) -> None:
        online = True
        try:
            while not self.stopped.is_set():
                self._wake.wait(1.0)
                self._wake.clear()
                sent_before = self.sender.sent
                ok = self.sender.drain(self.stopped)
                if self.metrics is not None and self.sender.sent > sent_before:
                    self.metrics.agent_samples.labels("sent").inc(self.sender.sent - sent_before)
                if self.stopped.is_set():
                    return
                if ok != online:
                    self.on_broker(ok)
                    self.on_event(
                        "broker reachable again, backlog sent" if ok else "broker unreachable, buffering on disk"
                    )
                    online = ok
                if ok and self._sampling_done:
                    self.on_event(f"all {self.sender.sent} sample(s) sent")
                    return
                if not ok:
                    self.stopped.wait(1.0)
        except Exception as exc:  # e.g. the disk queue failed: stop the agent, and ``run`` raises it
            self._send_error = exc
            self.stopped.set()

    def stop(self) -> None:
        self.stopped.set()

    def close(self) -> None:
        self.buffer.close()


def describe(record: dict[str, Any]) -> str:
    return json.dumps({k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in record.items()})
