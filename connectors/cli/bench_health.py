"""``wirereport bench health``: rates of the health rules (backtest code path), the grouper and a breaker."""

from __future__ import annotations

import asyncio
import random
import time
from datetime import UTC, datetime, timedelta

from connectors.circuit_breaker import BreakerConfig, CircuitBreaker
from streams.health.alert_grouping import AlertGrouper, GroupingConfig
from streams.health.backtest import run_health_backtest
from streams.health.rules import HealthConfig


def register(subparsers) -> None:
    p = subparsers.add_parser("health", help="backtest rate of the health rules (samples/s), grouper, breaker")
    p.add_argument("--samples", type=int, default=200_000)
    p.add_argument("--servers", type=int, default=50)
    p.set_defaults(func=run)


def synthetic_samples(n: int, servers: int, seed: int = 7) -> list[dict]:
    """Random-walk CPU/memory/disk per server at a 30 s cadence, with occasional lost samples."""
    rng = random.Random(seed)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    level = {f"srv-{i}": [50.0, 60.0, 70.0] for i in range(servers)}
    out = []
    for i in range(n):
        sid = f"srv-{i % servers}"
        if rng.random() < 0.001:
            continue
        lv = level[sid]
        for k in range(3):
            lv[k] = min(100.0, max(0.0, lv[k] + rng.gauss(0, 4)))
        out.append(
            {
                "server_id": sid,
                "league": "NBA",
                "observed_at": t0 + timedelta(seconds=30 * (i // servers)),
                "cpu_percent": lv[0],
                "memory_percent": lv[1],
                "disk_percent": lv[2],
                "workload": 0.0,
            }
        )
    return out


def _rate(n: int, seconds: float) -> str:
    return f"{n / seconds:>12,.0f}/s"


def run(args) -> int:
    samples = synthetic_samples(args.samples, args.servers)
    start = time.perf_counter()
    baseline = sum(1 for s in samples if s["cpu_percent"] >= 0)
    base_s = time.perf_counter() - start
    start = time.perf_counter()
    alerts = list(run_health_backtest(samples, HealthConfig()))
    rules_s = time.perf_counter() - start
    print(
        f"health rules      {_rate(len(samples), rules_s)} samples  ({len(samples):,} samples, "
        f"{args.servers} servers, {len(alerts):,} transitions, {rules_s:.2f}s)"
    )
    print(f"baseline loop     {_rate(baseline, base_s)} samples  (iterating the same records, no rules)")

    grouper = AlertGrouper(GroupingConfig(group_wait=30, group_interval=300))
    start = time.perf_counter()
    notes = 0
    for i, alert in enumerate(alerts):
        now = int(alert["at"].timestamp() * 1000)
        grouper.ingest_alert(alert, now)
        if i % 50 == 0:
            notes += len(grouper.flush(now))
    group_s = time.perf_counter() - start
    print(f"alert grouper     {_rate(len(alerts), group_s)} alerts   ({notes:,} notifications)")

    breaker = CircuitBreaker("bench", BreakerConfig())

    async def call() -> None:
        return None

    async def calls(n: int) -> float:
        t = time.perf_counter()
        for _ in range(n):
            await breaker.call(call)
        return time.perf_counter() - t

    async def bare(n: int) -> float:
        t = time.perf_counter()
        for _ in range(n):
            await call()
        return time.perf_counter() - t

    n = 200_000
    wrapped, raw = asyncio.run(calls(n)), asyncio.run(bare(n))
    print(f"breaker.call      {_rate(n, wrapped)} calls    (bare await of the same coroutine {_rate(n, raw)})")
    return 0
