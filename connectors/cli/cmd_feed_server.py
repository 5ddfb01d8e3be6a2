"""``wirereport feed-server``: a local live feed replaying recorded NFL games (the nflgame wheel's GameCenter
documents), revealed as they were played, ``--speed`` times faster; ``wirereport feed nfl`` follows it."""

from __future__ import annotations

import signal
import threading
from datetime import date


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "feed-server", help="serve recorded NFL games as a live GameCenter feed on 127.0.0.1, at a replay speed"
    )
    p.add_argument("--league", choices=["nfl"], default="nfl", help="the recorded league (nfl: GameCenter JSON)")
    p.add_argument("--season", type=int, default=2018, help="season year (default 2018)")
    p.add_argument("--week", type=int, default=1, help="regular-season week (default 1)")
    p.add_argument("--date", type=date.fromisoformat, help="only games kicking off on this US Eastern date")
    p.add_argument("--games", type=_ids, help="only these game ids, comma-separated")
    p.add_argument("--speed", type=_positive, default=240.0, help="replay time compression (default 240x)")
    p.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    p.set_defaults(func=run)


def _positive(text: str) -> float:
    import argparse

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not above 0")
    return value


def _ids(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def served_games(season: int, week: int, on_date: date | None = None, game_ids: list[str] | None = None) -> list[str]:
    """The game ids of the selection that have recorded data, by kickoff."""
    from connectors.exceptions import InputError
    from connectors.sources.importers import nfl

    games = [g["eid"] for g in nfl.select_games(season, week, "REG", on_date)]
    if game_ids:
        unknown = sorted(set(game_ids) - set(games))
        if unknown:
            raise InputError(f"game(s) {', '.join(unknown)} not in {season} week {week}")
        games = [g for g in games if g in game_ids]
    games = [g for g in games if nfl.load_game(g) is not None]
    if not games:
        raise InputError(f"no recorded NFL games in {season} week {week}" + (f" on {on_date}" if on_date else ""))
    return games


def run(args) -> int:
    from connectors.testing.feed_server import RecordedFeed, ReplayReveal, nfl_play_times, serving_feed

    games = served_games(args.season, args.week, args.date, args.games)
    feed = RecordedFeed()
    times = {}
    for eid in games:
        feed.add_nfl_game(eid)
        times[eid] = nfl_play_times(eid, feed.final_document(eid))
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    say = lambda line: print(f"feed-server: {line}", flush=True)  # noqa: E731
    with serving_feed(feed, args.port) as base_url:
        say(f"serving {len(games)} game(s) at {base_url}/{{game_id}}.json, {args.speed:g}x: {','.join(games)}")
        ReplayReveal(feed, times, args.speed, report=say).run(stop)
        if not stop.is_set():
            say("every game is final; still serving (Ctrl-C stops)")
        stop.wait()
    return 0
