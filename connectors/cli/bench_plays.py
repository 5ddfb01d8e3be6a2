"""``wirereport bench plays``: the pure decisions (the backtest's code path), then the real pipeline on the embedded
broker beside the raw aiokafka consume rate and a Faust agent doing nothing, and latency at a steady rate."""

from __future__ import annotations

import gzip
import json
import math
import time
from pathlib import Path

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"


def register(subparsers) -> None:
    p = subparsers.add_parser("plays", help="pure backtest rate of win probability + significance + budget")
    p.add_argument("--input", default=str(SAMPLE / "nfl_2018_week1_sunday.jsonl.gz"), help="Play JSON lines")
    p.add_argument("--schedule", default=str(SAMPLE / "nfl_2018_week1_schedule.jsonl"))
    p.add_argument("--repeat", type=int, default=5, help="runs; the best is reported (default 5)")
    p.add_argument("--pipeline-plays", type=int, default=60_000, help="plays waiting for the worker (default 60000)")
    p.add_argument("--rate", type=float, default=1000.0, help="steady plays/s for the latency run (default 1000)")
    p.add_argument("--seconds", type=float, default=15.0, help="length of the latency run (default 15)")
    p.add_argument("--pure-only", action="store_true", help="skip the broker pipeline part")
    p.add_argument(
        "--no-observability",
        action="store_true",
        help="skip the pipeline runs with metrics served and with tracing on (their plays/s beside the plain run)",
    )
    p.set_defaults(func=run)


def run(args) -> int:
    from streams.games import backtest as plays_backtest
    from streams.games.win_probability import win_prob_home

    opener = gzip.open if str(args.input).endswith(".gz") else open
    with opener(args.input, "rt") as fh:
        plays = [json.loads(line) for line in fh if line.strip()]
    schedule = [json.loads(line) for line in Path(args.schedule).read_text().splitlines() if line.strip()]
    best_wp = best = math.inf
    for _ in range(max(1, args.repeat)):
        start = time.perf_counter()
        for play in plays:
            win_prob_home(play)
        best_wp = min(best_wp, time.perf_counter() - start)
        start = time.perf_counter()
        for _decision in plays_backtest.run(plays, schedule):
            pass
        best = min(best, time.perf_counter() - start)
    n = len(plays)
    print(f"bench plays: {n} plays of {Path(args.input).name}, best of {args.repeat}")
    print(f"  win probability alone:            {n / best_wp:>12,.0f} plays/s")
    print(f"  pure decisions (WP + significance + budget + text): {n / best:,.0f} plays/s (target 50,000)")
    if not args.pure_only:
        from connectors.benchmarks.pipeline import run_pipeline_benchmark

        run_pipeline_benchmark(args.pipeline_plays, args.rate, args.seconds, observability=not args.no_observability)
        print("  targets: pipeline >= 20,000 plays/s on one worker; p99 produce -> tweet command < 100 ms")
    return 0
