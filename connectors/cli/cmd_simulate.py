"""``wirereport simulate nba|wnba``: simulated basketball nights as Play (and ScheduledGame) JSON lines."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

REAL_NBA_GAME = Path(__file__).resolve().parents[1] / "sample_data" / "nba_0020901030.jsonl"
DEFAULT_FIRST_NIGHT = {"nba": date(2023, 1, 10), "wnba": date(2023, 7, 11)}


def register(subparsers) -> None:
    from connectors.sources.simulation.basketball import KINDS

    p = subparsers.add_parser("simulate", help="simulate basketball nights as Play JSON lines")
    p.add_argument("league", choices=["nba", "wnba"])
    p.add_argument("--games", type=int, help="games a night (default: 1 for one-game, else 12 NBA / 6 WNBA)")
    p.add_argument("--nights", type=int, default=1, help="consecutive nights (default 1)")
    p.add_argument("--seed", type=int, default=1, help="same seed, same output (default 1)")
    p.add_argument("--kind", choices=KINDS, default="full", help="kind of night (default full)")
    p.add_argument("--date", type=date.fromisoformat, help="first night, US Eastern date (default: mid-season)")
    p.add_argument("--out", help="Play JSON lines (.jsonl or .jsonl.gz); stdout if omitted")
    p.add_argument("--schedule-out", help="write the simulated games as ScheduledGame JSON lines")
    p.add_argument(
        "--check",
        type=int,
        metavar="N",
        help="instead: simulate N games and print the calibration table (published, simulated, real NBA game)",
    )
    p.set_defaults(func=run_simulate)


def run_simulate(args) -> int:
    from connectors.exceptions import InputError

    if args.check is not None:
        return _run_check(args)
    from connectors.jsonl import write_jsonl
    from connectors.sources.simulation.basketball import simulate_nights

    if args.nights < 1:
        raise InputError(f"--nights must be at least 1, not {args.nights}")
    first = args.date or DEFAULT_FIRST_NIGHT[args.league]
    try:
        schedule, plays = simulate_nights(args.league.upper(), args.games, first, args.nights, args.seed, args.kind)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    write_jsonl(args.out, plays)
    if args.schedule_out:
        write_jsonl(args.schedule_out, schedule)
    print(f"{len(plays)} plays of {len(schedule)} games written to {args.out or 'stdout'}", file=sys.stderr)
    return 0


def _run_check(args) -> int:
    from connectors.exceptions import InputError
    from connectors.jsonl import read_jsonl
    from connectors.sources.simulation.basketball_check import calibration, format_table

    if args.check < 10:
        raise InputError(f"--check needs at least 10 games, not {args.check}")
    real = None
    if args.league == "nba":
        real = [obj for _number, obj in read_jsonl(REAL_NBA_GAME)]
    print(format_table(calibration(args.league.upper(), args.check, args.seed, real)))
    return 0
