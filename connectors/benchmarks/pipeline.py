"""Throughput and latency of the real pipeline: broker -> worker agents -> tables -> output topics.

The input is the bundled real NFL Sunday, copied under distinct game ids to the size asked for. Throughput is
measured with the input already in the topic: from the worker being ready to the last expected output.
Latency is measured at a steady produce rate, from producing a play to seeing the output it caused.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import psutil

from connectors.kafka.edge import EdgeProducer
from connectors.testing import WirereportProcess
from schemas.codec import get_codec
from schemas.json_form import from_json

SAMPLE = Path(__file__).parents[1] / "sample_data" / "nfl_2018_week1_sunday.jsonl.gz"


def sample_plays(count: int, tag: str) -> list[dict]:
    """``count`` real plays: the bundled Sunday repeated on later days, each copy under new game ids."""
    with gzip.open(SAMPLE, "rt") as fh:
        day = [from_json("Play", json.loads(line)) for line in fh]
    plays = []
    copy = 0
    while len(plays) < count:
        shift = timedelta(days=copy)  # each copy is a later day, with its own daily tweet budget
        plays.extend(
            {**p, "game_id": f"{p['game_id']}-{tag}{copy}", "occurred_at": p["occurred_at"] + shift}
            for p in day[: count - len(plays)]
        )
        copy += 1
    return plays


@dataclass
class OutputWatcher:
    """Consumes output topics in a thread from their current end and records when each record arrives.

    An aiokafka consumer with a 10 ms fetch wait: on the embedded broker it adds a few ms to a hop, where a
    librdkafka consumer adds ~50 ms (measured: aiokafka producer -> confluent consumer p50 56 ms, -> aiokafka
    consumer p50 3 ms), which would hide the pipeline's own latency.
    """

    bootstrap: str
    topics: tuple[str, ...]
    on_record: Callable[[str, dict, float, float], None]  # (topic, record, seen at perf_counter, written at epoch s)
    _stop: threading.Event = field(default_factory=threading.Event)
    _ready: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    def start(self) -> OutputWatcher:
        self._thread.start()
        self._ready.wait(30)
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    async def _run(self) -> None:
        from aiokafka import AIOKafkaConsumer, TopicPartition

        from streams.runtime.kafka_security import aiokafka_security_kwargs
        from streams.settings import get_settings

        codec = get_codec()
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            group_id=None,
            enable_auto_commit=False,
            fetch_max_wait_ms=10,
            **aiokafka_security_kwargs(get_settings()),
        )
        await consumer.start()
        try:
            await consumer.topics()  # loads the cluster metadata, so partitions_for_topic knows every topic
            tps = [TopicPartition(t, p) for t in self.topics for p in sorted(consumer.partitions_for_topic(t) or ())]
            consumer.assign(tps)
            await consumer.seek_to_end(*tps)
            for tp in tps:
                await consumer.position(tp)
            self._ready.set()
            while not self._stop.is_set():
                batches = await consumer.getmany(timeout_ms=100, max_records=10_000)
                now = time.perf_counter()
                for tp, records in batches.items():
                    for record in records:
                        self.on_record(tp.topic, codec.decode(record.value)[1], now, record.timestamp / 1000)
        finally:
            self._ready.set()
            await consumer.stop()


def start_worker(bootstrap: str, env: dict | None = None) -> WirereportProcess:
    """A fresh worker (its own consumer group) on ``bootstrap``, started and ready."""
    worker = WirereportProcess(
        ["worker"],
        bootstrap=bootstrap,
        env={"WIREREPORT_APP_ID": f"bench-{time.time_ns()}", "WIREREPORT_LOG_LEVEL": "WARNING", **(env or {})},
    ).start()
    worker.wait_for_output("worker ready", timeout=120)
    return worker


def expected_tweets(plays: list[dict], budget: int) -> int:
    """How many tweet commands the agents' code path makes for ``plays`` (the backtest, same input)."""
    from streams.games.backtest import run as backtest

    return sum(1 for decision in backtest(plays, (), budget=budget) if decision["tweet"])


def measure_throughput(bootstrap: str, count: int, budget: int = 17, worker_env: dict | None = None) -> dict:
    """Plays/s through the worker, with ``count`` plays waiting in the topic when it starts.

    Done when every game's last play is in ``game-state`` and every tweet the backtest makes for the same input
    is in ``tweet-commands``.
    """
    plays = sample_plays(count, "t")
    last_seq = {p["game_id"]: p["sequence"] for p in plays}
    tweets_wanted = expected_tweets(plays, budget)
    finished: set[str] = set()
    tweets: set[str] = set()
    done = threading.Event()
    end_time = [0.0]

    def on_record(name: str, record: dict, now: float, _written: float) -> None:
        if name == "tweet-commands":
            tweets.add(record["command_id"])
        elif record["game_id"] in last_seq and record["last_sequence"] >= last_seq[record["game_id"]]:
            finished.add(record["game_id"])
        if len(finished) == len(last_seq) and len(tweets) >= tweets_wanted and not done.is_set():
            end_time[0] = now
            done.set()

    watcher = OutputWatcher(bootstrap, ("game-state", "tweet-commands"), on_record).start()
    with EdgeProducer(bootstrap, **{"linger.ms": 20, "batch.num.messages": 10000}) as producer:
        for play in plays:
            producer.send("plays", play)
    worker = start_worker(bootstrap, {"WIREREPORT_TWEETS_PER_DAY": str(budget), **(worker_env or {})})
    process = psutil.Process(worker.process.pid)
    cpu_before = sum(process.cpu_times()[:2])
    started = time.perf_counter()
    try:
        done.wait(600)
        try:
            cpu = sum(process.cpu_times()[:2]) - cpu_before
        except psutil.Error:  # the worker died: no figure
            cpu = float("nan")
    finally:
        worker.stop()
        watcher.stop()
    elapsed = end_time[0] - started if done.is_set() else float("nan")
    return {
        "plays": count,
        "games": len(last_seq),
        "tweets": len(tweets),
        "seconds": elapsed,
        "rate": count / elapsed,
        "worker_cpu_us_per_play": cpu / count * 1e6,  # all its threads; steadier than the rate on a shared machine
    }


class _DiscardTraces(BaseHTTPRequestHandler):
    """An OTLP/HTTP endpoint that accepts every export and keeps nothing (the worker pays the real export cost)."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format, *args) -> None:
        pass


def measure_observability_cost(count: int, report=print) -> dict:
    """Plays/s of the same pipeline run three times, each on a fresh broker: metrics and tracing off (as the
    throughput figure above), metrics served (the Faust sensor and the output observer), and metrics plus a span
    per play exported over OTLP/HTTP to a local endpoint that discards them."""
    from connectors.kafka.broker import free_port
    from connectors.testing import running_broker
    from connectors.testing.http_server import serving

    results = {}
    with serving(_DiscardTraces) as collector:
        variants = {
            "off": {},
            "metrics": {"WIREREPORT_METRICS_PORT": str(free_port())},
            "metrics+tracing": {
                "WIREREPORT_METRICS_PORT": str(free_port()),
                "WIREREPORT_TRACING": "otlp",
                "WIREREPORT_OTLP_ENDPOINT": f"{collector}/v1/traces",
            },
        }
        for name, env in variants.items():
            with running_broker() as bootstrap:
                results[name] = measure_throughput(bootstrap, count, worker_env=env)
            report(
                f"    {name:<16} {results[name]['rate']:>10,.0f} plays/s  worker CPU "
                f"{results[name]['worker_cpu_us_per_play']:.0f} µs/play"
                + ("" if name == "off" else f"  ({results[name]['rate'] / results['off']['rate'] - 1:+.1%} plays/s)")
            )
    return results


def _percentiles(values: list[float]) -> dict:
    values = sorted(values)
    if not values:
        return {"samples": 0, "p50_ms": float("nan"), "p99_ms": float("nan")}
    return {
        "samples": len(values),
        "p50_ms": statistics.median(values),
        "p99_ms": values[min(len(values) - 1, int(len(values) * 0.99))],
    }


def measure_latency(bootstrap: str, rate: float, seconds: float, budget: int = 17) -> dict:
    """p50/p99 ms from producing a play to the tweet command (and the game-state update) it caused.

    Plays are produced at a steady ``rate``; every copy of the day has its own budget, so tweets keep coming.
    Two figures per output: ``seen`` (a consumer has it) and ``written`` (the worker's producer stamped it, the
    record's CreateTime: the pipeline without the measuring consumer's fetch wait). Measuring starts once the
    worker answers a warm-up play (a fresh worker is still joining its group when it says ready).
    """
    plays = sample_plays(int(rate * seconds), "l")
    warm_up = sample_plays(1, "w")[0]
    warm = threading.Event()
    produced: dict[tuple[str, str], tuple[float, float]] = {}
    latencies: dict[str, list[float]] = {}

    def on_record(name: str, record: dict, now: float, written: float) -> None:
        if record["game_id"] == warm_up["game_id"]:
            warm.set()
        play_id = record["last_play_id"] if name == "game-state" else record["play_id"]
        sent = produced.get((record["game_id"], play_id))
        if sent is not None:
            latencies.setdefault(f"{name} seen", []).append((now - sent[0]) * 1000)
            latencies.setdefault(f"{name} written", []).append((written - sent[1]) * 1000)

    worker = start_worker(bootstrap, {"WIREREPORT_TWEETS_PER_DAY": str(budget)})
    # The watcher also reads ``plays`` itself: the raw produce -> consume latency of the same records, same run.
    watcher = OutputWatcher(bootstrap, ("plays", "game-state", "tweet-commands"), on_record).start()
    try:
        # The league servers' producer as it is (idempotent, 5 ms linger). With linger 0 librdkafka sends one
        # request per record and on the embedded broker its queue grows without bound at 1,000/s (p99 seconds).
        with EdgeProducer(bootstrap) as producer:
            producer.send("plays", warm_up)
            producer.flush()
            warm.wait(60)
            interval = 1.0 / rate
            next_at = time.perf_counter()
            for play in plays:
                delay = next_at - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                produced[(play["game_id"], play["play_id"])] = (time.perf_counter(), time.time())
                producer.send("plays", play)
                next_at += interval
        time.sleep(2.0)
    finally:
        watcher.stop()
        worker.stop()
    names = [f"{o} {w}" for o in ("tweet-commands", "game-state", "plays") for w in ("seen", "written")]
    return {"rate": rate, "plays": len(plays), **{name: _percentiles(latencies.get(name, [])) for name in names}}


def measure_empty_agent(bootstrap: str, count: int, mode: str = "batches") -> float:
    """Events/s of an agent doing nothing on the ``plays`` already in the topic (the Faust ceiling here).

    ``mode``: ``batches`` (the games agent's batch reader) or ``take_events`` (Faust's stock stream batching).
    """
    result = subprocess.run(
        [sys.executable, "-m", "connectors.benchmarks.empty_agent", bootstrap, str(count), mode],
        capture_output=True,
        text=True,
        timeout=600,
    )
    for line in result.stdout.splitlines():
        if line.startswith("events/s:"):
            return float(line.split(":")[1])
    raise RuntimeError(f"empty agent benchmark failed: {result.stderr[-500:]}")


def run_pipeline_benchmark(
    count: int = 100_000, rate: float = 1000.0, seconds: float = 20.0, report=print, observability: bool = True
) -> dict:
    """Throughput, the Faust and raw aiokafka ceilings on the same data, and latency at a steady rate.

    Uses a fresh embedded broker so the topics hold exactly the benchmark's data.
    """
    from connectors.benchmarks.raw_clients import aiokafka_consume_rate
    from connectors.testing import running_broker

    logging.getLogger("aiokafka").setLevel(logging.WARNING)  # the measuring clients' subscription chatter
    with running_broker() as bootstrap:
        report(
            f"  pipeline: {count:,} real plays waiting in `plays`, one worker (broker -> agent -> tables -> tweet-commands)"
        )
        throughput = measure_throughput(bootstrap, count)
        raw = aiokafka_consume_rate(bootstrap, "plays", count)
        empty = measure_empty_agent(bootstrap, count)
        stock = measure_empty_agent(bootstrap, count, "take_events")
        report(
            f"    pipeline                    {throughput['rate']:>10,.0f} plays/s  ({throughput['seconds']:.1f}s, "
            f"{throughput['games']} games, {throughput['tweets']} tweets; worker CPU "
            f"{throughput['worker_cpu_us_per_play']:.0f} µs/play)"
        )
        report(f"    Faust agent doing nothing   {empty:>10,.0f} events/s  (same app, same topic, same batch reader)")
        report(f"      ... with take_events      {stock:>10,.0f} events/s  (Faust's stock Stream batching)")
        report(f"    raw aiokafka consume        {raw:>10,.0f} msgs/s")
        report(
            f"    pipeline / raw aiokafka     {throughput['rate'] / raw:>10.1%}   pipeline / empty agent {throughput['rate'] / empty:.0%}"
        )
    with running_broker() as bootstrap:
        latency = measure_latency(bootstrap, rate, seconds)
        for name in ("tweet-commands", "game-state"):
            seen, written = latency[f"{name} seen"], latency[f"{name} written"]
            report(
                f"    latency at {rate:,.0f} plays/s, produce -> {name:15} p50 {seen['p50_ms']:6.1f} ms  "
                f"p99 {seen['p99_ms']:6.1f} ms seen by a consumer; p50 {written['p50_ms']:6.1f} ms  "
                f"p99 {written['p99_ms']:6.1f} ms written by the worker  ({seen['samples']} samples)"
            )
        raw_latency = latency["plays seen"]
        report(
            f"    raw produce -> aiokafka consume of `plays`, same run      p50 {raw_latency['p50_ms']:6.1f} ms  "
            f"p99 {raw_latency['p99_ms']:6.1f} ms  ({raw_latency['samples']} samples)"
        )
    observability_cost = None
    if observability:
        report(f"  metrics and tracing cost: the pipeline on {count:,} plays, three runs, each on a fresh broker")
        observability_cost = measure_observability_cost(count, report)
    return {
        "observability": observability_cost,
        "throughput": throughput,
        "raw_aiokafka": raw,
        "empty_agent": empty,
        "empty_agent_take_events": stock,
        "latency": latency,
    }
