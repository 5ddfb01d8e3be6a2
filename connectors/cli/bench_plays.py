"""``wirereport bench plays``: plays per second through the pure decisions (the backtest's code path)."""

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
    p.set_defaults(func=run)


def run(args) -> int:
    from streams import plays_backtest
    from streams.win_probability import win_prob_home

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
    return 0
