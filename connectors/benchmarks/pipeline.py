"""Throughput and latency of the real pipeline: broker -> worker agents -> tables -> output topics.

The input is the bundled real NFL Sunday, copied under distinct game ids to the size asked for. Throughput is
measured with the input already in the topic: from the worker being ready to the last expected output.
Latency is measured at a steady produce rate, from producing a play to seeing the output it caused.
"""

from __future__ import annotations

import gzip
import json
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from connectors.edge import EdgeProducer, assigned_consumer
from connectors.testing import WirereportProcess
from schemas.codec import get_codec
from schemas.json_form import from_json

SAMPLE = Path(__file__).parents[1] / "sample_data" / "nfl_2018_week1_sunday.jsonl.gz"


def sample_plays(count: int, tag: str) -> list[dict]:
    """``count`` real plays: the bundled Sunday repeated, each copy under new game ids, in time order."""
    with gzip.open(SAMPLE, "rt") as fh:
        day = [from_json("Play", json.loads(line)) for line in fh]
    plays = []
    copy = 0
    while len(plays) < count:
        plays.extend({**p, "game_id": f"{p['game_id']}-{tag}{copy}"} for p in day[: count - len(plays)])
        copy += 1
    return plays


@dataclass
class OutputWatcher:
    """Consumes output topics in a thread from their current end and records when each record arrives."""

    bootstrap: str
    topics: tuple[str, ...]
    on_record: Callable[[str, dict, float], None]
    _stop: threading.Event = field(default_factory=threading.Event)
    _ready: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> OutputWatcher:
        self._thread.start()
        self._ready.wait(30)
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        codec = get_codec()
        consumer = assigned_consumer(self.bootstrap, list(self.topics), "end", **{"fetch.wait.max.ms": 10})
        try:
            self._ready.set()
            while not self._stop.is_set():
                for msg in consumer.consume(1000, 0.1):
                    if msg.error():
                        continue
                    now = time.perf_counter()
                    self.on_record(msg.topic(), codec.decode(msg.value())[1], now)
        finally:
            self._ready.set()
            consumer.close()


def start_worker(bootstrap: str, app_id: str, env: dict | None = None) -> WirereportProcess:
    worker = WirereportProcess(
        ["worker"],
        bootstrap=bootstrap,
        env={"WIREREPORT_APP_ID": app_id, "WIREREPORT_LOG_LEVEL": "WARNING", **(env or {})},
    ).start()
    worker.wait_for_output("worker ready", timeout=120)
    return worker


def measure_throughput(bootstrap: str, count: int, env: dict | None = None) -> dict:
    """Plays/s through the worker, with ``count`` plays waiting in the topic when it starts."""
    plays = sample_plays(count, "t")
    finals = {p["game_id"] for p in plays if p["event_type"] == "game_end"}
    last_seq = {}
    for p in plays:
        last_seq[p["game_id"]] = p["sequence"]
    done = threading.Event()
    seen: dict[str, int] = {}
    end_time = [0.0]

    def on_record(name: str, record: dict, now: float) -> None:
        gid = record.get("game_id")
        if name == "game-state" and gid in last_seq and record["last_sequence"] >= last_seq[gid]:
            seen[gid] = record["last_sequence"]
            if len(seen) == len(last_seq):
                end_time[0] = now
                done.set()

    watcher = OutputWatcher(bootstrap, ("game-state",), on_record).start()
    with EdgeProducer(bootstrap, **{"linger.ms": 20, "batch.num.messages": 10000}) as producer:
        for play in plays:
            producer.send("plays", play)
    worker = WirereportProcess(
        ["worker"],
        bootstrap=bootstrap,
        env={"WIREREPORT_APP_ID": f"bench-{time.time_ns()}", "WIREREPORT_LOG_LEVEL": "WARNING", **(env or {})},
    ).start()
    try:
        worker.wait_for_output("worker ready", timeout=120)
        started = time.perf_counter()
        done.wait(600)
    finally:
        worker.stop()
        watcher.stop()
    elapsed = end_time[0] - started if done.is_set() else float("nan")
    return {"plays": count, "games": len(last_seq), "finals": len(finals), "seconds": elapsed, "rate": count / elapsed}


def measure_latency(bootstrap: str, rate: float, seconds: float, env: dict | None = None) -> dict:
    """p50/p99 milliseconds from producing a play to its game-state update, at a steady ``rate``."""
    plays = sample_plays(int(rate * seconds), "l")
    produced: dict[tuple[str, str], float] = {}
    latencies: list[float] = []

    def on_record(name: str, record: dict, now: float) -> None:
        sent = produced.get((record["game_id"], record.get("last_play_id") or record.get("play_id")))
        if sent is not None:
            latencies.append((now - sent) * 1000)

    worker = start_worker(bootstrap, f"bench-lat-{time.time_ns()}", env)
    watcher = OutputWatcher(bootstrap, ("game-state",), on_record).start()
    try:
        with EdgeProducer(bootstrap, **{"linger.ms": 0}) as producer:
            interval = 1.0 / rate
            next_at = time.perf_counter()
            for play in plays:
                delay = next_at - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                produced[(play["game_id"], play["play_id"])] = time.perf_counter()
                producer.send("plays", play)
                producer._producer.poll(0)
                next_at += interval
        time.sleep(2.0)
    finally:
        watcher.stop()
        worker.stop()
    latencies.sort()
    if not latencies:
        return {"samples": 0}
    return {
        "samples": len(latencies),
        "p50_ms": statistics.median(latencies),
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
    }
