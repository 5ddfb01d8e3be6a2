"""Simulated NBA and WNBA slates: Play and ScheduledGame records from a possession-level scoring model.

There is no NBA/WNBA play-by-play season on the package index, so the basketball moment model and tweet budget
are tuned on simulated nights. The scoring model is calibrated on published league averages (the table and its
source are in basketball_leagues and docs/basketball-simulator.md); the games follow the rules of each league
(4 x 12 min NBA, 4 x 10 min WNBA, 5-minute overtimes until decided) and its end-game habits (basketball_game).

Output is the real contract: Play records exactly as the NBA importer gives them for the real game, and
ScheduledGame records of the slate. Everything is deterministic from the seed: each game draws from its own
``random.Random`` keyed by (league, date, seed, game number), so the same seed gives byte-identical output and
one game does not change when another does.

Kinds of night (``simulate_slate(kind=...)``):

- ``one-game``: one game at 7:30 pm ET;
- ``full``: ``n_games`` games (default 12 NBA, 6 WNBA) at tip-off times as a real night has them (mostly 7:00
  and 7:30 pm ET, some later, the last ones at 10:00-10:30 pm ET);
- ``spread``: the tip-offs spread evenly over 7:00-10:30 pm ET in half hours, so late games run past midnight ET;
- ``overtime-heavy``: like ``full``, but every game goes to overtime. Each game is the first of its own sequence
  of candidate games (same matchup and ratings, a new draw each) that reaches overtime: the games are the model's
  own overtime games, so close matchups and tied endings are over-represented exactly as conditioning implies.
"""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from connectors.sources.simulation.basketball_game import BasketballGame, _iso
from connectors.sources.simulation.basketball_leagues import LeagueParameters, league_parameters

EASTERN = ZoneInfo("America/New_York")
KINDS = ("one-game", "full", "spread", "overtime-heavy")
DEFAULT_GAMES = {"NBA": 12, "WNBA": 6}
# Tip-off slots of a real NBA night (ET) and how often they are used; later slots are the West Coast games.
NIGHT_SLOTS = ((time(19), 0.30), (time(19, 30), 0.30), (time(20), 0.15), (time(20, 30), 0.05), (time(21), 0.08),
               (time(22), 0.08), (time(22, 30), 0.04))  # fmt: skip
SPREAD_FIRST, SPREAD_LAST = time(19), time(22, 30)
TIP_DELAY_SECONDS = (480, 720)  # scheduled start to the opening tip (anthems, introductions)
MAX_OVERTIME_ATTEMPTS = 400


def game_id(league: str, day: date, number: int, seed: int) -> str:
    """A readable id that cannot be mistaken for a real one: ``sim<seed>-nba-20240112-03``."""
    return f"sim{seed}-{league.lower()}-{day:%Y%m%d}-{number:02d}"


def simulate_game(
    params: LeagueParameters,
    game: str,
    home: str,
    away: str,
    scheduled_start: datetime,
    rng: random.Random,
    home_rating: float = 0.0,
    away_rating: float = 0.0,
) -> list[dict[str, Any]]:
    """The Play records of one game; the opening tip comes a few minutes after ``scheduled_start``."""
    tip_off = scheduled_start + timedelta(seconds=rng.randint(*TIP_DELAY_SECONDS))
    return BasketballGame(params, game, home, away, tip_off, rng, home_rating, away_rating).play()


def _tip_times(rng: random.Random, day: date, n_games: int, kind: str) -> list[datetime]:
    if kind == "one-game":
        slots = [time(19, 30)]
    elif kind == "spread":
        first = SPREAD_FIRST.hour * 60 + SPREAD_FIRST.minute
        span = SPREAD_LAST.hour * 60 + SPREAD_LAST.minute - first
        minutes = [first + round(i * span / max(1, n_games - 1) / 30) * 30 for i in range(n_games)]
        slots = [time(m // 60, m % 60) for m in minutes]
    else:
        slots = sorted(rng.choices([s for s, _ in NIGHT_SLOTS], [w for _, w in NIGHT_SLOTS], k=n_games))
    return [datetime.combine(day, slot, tzinfo=EASTERN) for slot in slots]


def simulate_slate(
    league: str, n_games: int | None, day: date, seed: int, kind: str = "full"
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(ScheduledGame records, Play records merged by time) of one night.

    Team ratings are drawn for the night from N(0, ``rating_sd``) (points per 100 possessions); the matchups
    are a random pairing of distinct teams.
    """
    params = league_parameters(league)
    if kind not in KINDS:
        raise ValueError(f"unknown kind of night {kind!r}; one of {', '.join(KINDS)}")
    if n_games is None:
        n_games = 1 if kind == "one-game" else DEFAULT_GAMES[params.league]
    if kind == "one-game" and n_games != 1:
        raise ValueError(f"a one-game night has one game, not {n_games}")
    most = len(params.teams) // 2
    if not 1 <= n_games <= most:
        raise ValueError(f"{params.league} has {len(params.teams)} teams: 1 to {most} games a night, not {n_games}")
    night = random.Random(f"night/{params.league}/{day.isoformat()}/{seed}/{kind}")
    ratings = {code: night.gauss(0.0, params.rating_sd) for code, _ in params.teams}
    teams = night.sample([code for code, _ in params.teams], 2 * n_games)
    starts = _tip_times(night, day, n_games, kind)
    schedule, per_game = [], []
    for number, start in enumerate(starts, 1):
        home, away = teams[2 * number - 2], teams[2 * number - 1]
        gid = game_id(params.league, day, number, seed)
        plays = _play_night_game(params, gid, home, away, start, ratings, seed, kind)
        schedule.append(
            {
                "league": params.league,
                "game_id": gid,
                "home_team": home,
                "away_team": away,
                "scheduled_start": _iso(start),
            }
        )
        per_game.append(plays)
    merged = [play for plays in per_game for play in plays]
    merged.sort(key=lambda play: play["occurred_at"])  # stable: game order, then sequence
    return schedule, merged


def _play_night_game(
    params: LeagueParameters,
    gid: str,
    home: str,
    away: str,
    start: datetime,
    ratings: dict[str, float],
    seed: int,
    kind: str,
) -> list[dict[str, Any]]:
    attempts = MAX_OVERTIME_ATTEMPTS if kind == "overtime-heavy" else 1
    for attempt in range(attempts):
        rng = random.Random(f"game/{gid}/{attempt}")
        plays = simulate_game(params, gid, home, away, start, rng, ratings[home], ratings[away])
        if kind != "overtime-heavy" or plays[-1]["period"] > params.periods:
            return plays
    raise RuntimeError(f"{gid}: no overtime in {attempts} draws")  # about 1 in 10^10 at a 6% overtime rate


def simulate_nights(
    league: str, n_games: int | None, first_day: date, nights: int, seed: int, kind: str = "full"
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``nights`` consecutive nights from ``first_day``: (ScheduledGame records, Play records), night by night."""
    schedule, plays = [], []
    for offset in range(nights):
        night_schedule, night_plays = simulate_slate(league, n_games, first_day + timedelta(days=offset), seed, kind)
        schedule += night_schedule
        plays += night_plays
    return schedule, plays
