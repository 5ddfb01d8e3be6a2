"""Takeover after a worker is SIGKILLed: kill -> the next decision of every league, over repeated kills.

Three workers of one app share the plays of a steady replay (the real NFL Sunday and the real NBA game, copied
under new game ids, at a fixed rate); each round one worker is killed with SIGKILL (no shutdown, no commit) and,
once every league decides again, started anew. A round's figure is the longest of the leagues' gaps between the
kill and the first ``game-state`` record written after it: the takeover of the partitions the killed worker
held, or, when it held none, the pause the rebalance made the others take.
"""

from __future__ import annotations

import gzip
import itertools
import json
import statistics
import threading
import time
from datetime import timedelta
from pathlib import Path

from connectors.benchmarks.pipeline import OutputWatcher
from connectors.kafka.edge import EdgeProducer
from connectors.testing import WirereportProcess, running_broker
from schemas.json_form import from_json

SAMPLE = Path(__file__).parents[1] / "sample_data"
DAYS = (("nfl_2018_week1_sunday.jsonl.gz", "NFL"), ("nba_0020901030.jsonl", "NBA"))


def replay_days() -> dict[str, list[dict]]:
    """The bundled real days, by league, in play order."""
    days = {}
    for name, league in DAYS:
        path = SAMPLE / name
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt") as fh:
            days[league] = [from_json("Play", json.loads(line)) for line in fh if line.strip()]
    return days


def endless_plays(days: dict[str, list[dict]]):
    """The leagues' plays taken in turn, each league's day again and again on later days (new game ids), so every
    league always has plays coming."""

    def copies(plays: list[dict]):
        for copy in itertools.count():
            shift = timedelta(days=copy)
            for p in plays:
                yield {**p, "game_id": f"{p['game_id']}-k{copy}", "occurred_at": p["occurred_at"] + shift}

    for batch in zip(*(copies(plays) for plays in days.values()), strict=False):
        yield from batch


class SteadyReplay:
    """Produces plays at ``rate`` per second in a thread until stopped."""

    def __init__(self, bootstrap: str, rate: float):
        self.bootstrap, self.rate = bootstrap, rate
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> SteadyReplay:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        plays = endless_plays(replay_days())
        with EdgeProducer(self.bootstrap, **{"linger.ms": 5}) as producer:
            started = time.perf_counter()
            for sent, play in enumerate(plays):
                if self._stop.is_set():
                    return
                due = started + sent / self.rate
                delay = due - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                producer.send("plays", play)


class LeagueClock:
    """When each league last had a ``game-state`` record written (the worker's producer timestamp)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.written: dict[str, list[float]] = {}

    def on_record(self, _topic: str, record: dict, _seen: float, written: float) -> None:
        with self._lock:
            self.written.setdefault(record["league"], []).append(written)

    def first_after(self, league: str, moment: float) -> float | None:
        with self._lock:
            return next((t for t in self.written.get(league, ()) if t > moment), None)


def start_worker(bootstrap: str, app_id: str, data_dir: Path) -> WirereportProcess:
    worker = WirereportProcess(
        ["worker"],
        bootstrap=bootstrap,
        env={"WIREREPORT_APP_ID": app_id, "WIREREPORT_DATA_DIR": str(data_dir), "WIREREPORT_LOG_LEVEL": "WARNING"},
    ).start()
    worker.wait_for_output("worker ready", timeout=120)
    return worker


def measure_takeover(kills: int, rate: float, workers: int, scratch: Path, report=print) -> list[float]:
    """Seconds from each SIGKILL to the next ``game-state`` of every league (see the module docstring)."""
    app_id = f"bench-takeover-{time.time_ns()}"
    takeovers: list[float] = []  # per kill: the longest wait of a league for its next decision
    clock = LeagueClock()
    with running_broker() as bootstrap:
        watcher = OutputWatcher(bootstrap, ("game-state",), clock.on_record).start()
        pool = [start_worker(bootstrap, app_id, scratch / f"w{i}") for i in range(workers)]
        replay = SteadyReplay(bootstrap, rate).start()
        try:
            time.sleep(10.0)  # every worker has joined and the plays flow
            for round_no in range(kills):
                victim = round_no % len(pool)
                killed_at = time.time()
                pool[victim].kill()
                deadline = time.monotonic() + 120
                firsts: dict[str, float] = {}
                while len(firsts) < len(DAYS) and time.monotonic() < deadline:
                    for _, league in DAYS:
                        first = clock.first_after(league, killed_at)
                        if first is not None:
                            firsts.setdefault(league, first)
                    time.sleep(0.05)
                if len(firsts) < len(DAYS):
                    report(f"    kill {round_no + 1}: a league made no decision in 120 s")
                    takeovers.append(float("inf"))
                else:
                    takeovers.append(max(firsts.values()) - killed_at)
                    gaps = ", ".join(f"{league} {first - killed_at:.1f}s" for league, first in sorted(firsts.items()))
                    report(f"    kill {round_no + 1:>2} (worker {victim + 1}): {gaps}")
                pool[victim] = start_worker(bootstrap, app_id, scratch / f"w{victim}-{round_no}")
                time.sleep(5.0)  # the restarted worker has joined: the next kill starts from a settled group
        finally:
            replay.stop()
            for worker in pool:
                worker.stop()
            watcher.stop()
    return takeovers


OWNER_GAP_SECONDS = 1.0  # a league that waited longer lost its partition's worker (plays arrive every 40 ms)


def summary(takeovers: list[float]) -> str:
    """p50/p99 over the kills of a worker that held a league's plays, and the longest pause an idle one's made."""
    owners = sorted(t for t in takeovers if t > OWNER_GAP_SECONDS)
    idle = [t for t in takeovers if t <= OWNER_GAP_SECONDS]
    lines = []
    if owners:
        p50 = statistics.median(owners)
        p99 = owners[min(len(owners) - 1, round(0.99 * (len(owners) - 1)))]
        lines.append(
            f"takeover after SIGKILL of a worker holding plays (kill -> next decision of its leagues), {len(owners)}"
            f" kill(s): p50 {p50:.1f} s  p99 {p99:.1f} s"
        )
    if idle:
        lines.append(f"kills of a worker holding no plays: {len(idle)}, longest pause of a league {max(idle):.2f} s")
    return "\n  ".join(lines)
