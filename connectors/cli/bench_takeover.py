"""``wirereport bench takeover``: three workers of one app under a steady replay, one SIGKILLed per round: seconds
from the kill to the next decision of every league, p50/p99 over the rounds."""

from __future__ import annotations

import tempfile
from pathlib import Path


def register(subparsers) -> None:
    p = subparsers.add_parser("takeover", help="takeover time after a worker is SIGKILLed (p50/p99 over the kills)")
    p.add_argument("--kills", type=int, default=10, help="rounds, one SIGKILL each (default 10)")
    p.add_argument("--workers", type=int, default=3, help="workers of the app (default 3)")
    p.add_argument("--rate", type=float, default=50.0, help="plays/s of the steady replay (default 50)")
    p.set_defaults(func=run)


def run(args) -> int:
    from connectors.benchmarks.takeover import measure_takeover, summary
    from connectors.exceptions import ConnectorError

    if args.kills < 1 or args.workers < 2 or args.rate <= 0:
        raise ConnectorError("bench takeover needs --kills >= 1, --workers >= 2 and --rate > 0")
    print(
        f"bench takeover: {args.workers} workers, real NFL and NBA plays at {args.rate:g}/s, {args.kills} SIGKILLs",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="wirereport-takeover-") as scratch:
        takeovers = measure_takeover(args.kills, args.rate, args.workers, Path(scratch), report=_report)
    print(f"  {summary(takeovers)}")
    print("  session timeout WIREREPORT_BROKER_SESSION_TIMEOUT bounds the detection of a dead worker")
    return 0


def _report(line: str) -> None:
    print(line, flush=True)
