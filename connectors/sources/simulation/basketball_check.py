"""How simulated basketball compares with the published averages and with the real sample game.

``game_statistics`` reads one game's Play records (simulated or imported: both use stats.nba.com phrasing) and
returns the statistics of the comparison; ``calibration`` simulates many games and puts the published value, the
simulated distribution and, for the NBA, the real game with its percentile in one table.
"""

from __future__ import annotations

import random
import re
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from connectors.sources.simulation.basketball import simulate_game
from connectors.sources.simulation.basketball_leagues import league_parameters, possession_model

_FIELD_GOAL = re.compile(r"\b(?:Shot|Layup|Dunk)\b")
_REBOUND = re.compile(r"(\S+) REBOUND \(Off:(\d+) Def:(\d+)\)")
# Published comparison values that are not in the league-average table (None: nothing published to compare).
PUBLISHED_LEAD_CHANGES = {"NBA": "8-10", "WNBA": None}


@dataclass(frozen=True)
class GameStatistics:
    home_points: int
    away_points: int
    periods: int
    lead_changes: int
    longest_run: int
    field_goal_attempts: int
    three_point_attempts: int
    free_throw_attempts: int
    offensive_rebounds: int
    turnovers: int

    @property
    def overtime(self) -> bool:
        return self.periods > 4

    @property
    def margin(self) -> int:
        return abs(self.home_points - self.away_points)

    @property
    def points_per_team(self) -> float:
        return (self.home_points + self.away_points) / 2

    @property
    def possessions_per_team(self) -> float:
        """The usual box-score estimate FGA - ORB + TOV + 0.44 FTA, per team."""
        fga, orb, tov, fta = (
            self.field_goal_attempts,
            self.offensive_rebounds,
            self.turnovers,
            self.free_throw_attempts,
        )
        return (fga - orb + tov + 0.44 * fta) / 2

    @property
    def three_point_share(self) -> float:
        return self.three_point_attempts / self.field_goal_attempts if self.field_goal_attempts else 0.0

    @property
    def free_throw_rate(self) -> float:
        return self.free_throw_attempts / self.field_goal_attempts if self.field_goal_attempts else 0.0


def game_statistics(plays: Sequence[dict[str, Any]]) -> GameStatistics:
    """The statistics of one game from its Play records in sequence order."""
    leader = None
    lead_changes = longest_run = run = 0
    run_team = None
    previous = (0, 0)
    fga = fg3a = fta = orb = tov = 0
    rebounds: dict[str, tuple[int, int]] = {}
    for play in plays:
        home, away = play["home_score"], play["away_score"]
        if (home, away) != previous:
            scorer = "home" if home > previous[0] else "away"
            points = home - previous[0] if scorer == "home" else away - previous[1]
            run = run + points if scorer == run_team else points
            run_team = scorer
            longest_run = max(longest_run, run)
            now = "home" if home > away else "away" if away > home else None
            if now and leader and now != leader:
                lead_changes += 1
            leader = now or leader
            previous = (home, away)
        text = play["description"]
        if "Free Throw" in text:
            fta += 1
        elif _FIELD_GOAL.search(text):
            fga += 1
            fg3a += "3PT" in text
        if "Turnover" in text:
            tov += 1
        for name, off, deff in _REBOUND.findall(text):
            before = rebounds.get(name, (0, 0))
            orb += int(off) > before[0]
            rebounds[name] = (int(off), int(deff))
    last = plays[-1]
    return GameStatistics(
        last["home_score"], last["away_score"], last["period"], lead_changes, longest_run, fga, fg3a, fta, orb, tov
    )


def simulated_games(league: str, n_games: int, seed: int) -> Iterable[GameStatistics]:
    """Statistics of ``n_games`` games between random teams with ratings drawn as a slate draws them."""
    params = league_parameters(league)
    codes = [code for code, _ in params.teams]
    start = datetime(2023, 1, 10, 19, 30, tzinfo=ZoneInfo("America/New_York"))
    for number in range(n_games):
        rng = random.Random(f"check/{params.league}/{seed}/{number}")
        home, away = rng.sample(codes, 2)
        ratings = rng.gauss(0.0, params.rating_sd), rng.gauss(0.0, params.rating_sd)
        yield game_statistics(simulate_game(params, f"check-{number}", home, away, start, rng, *ratings))


def percentile(value: float, sample: Sequence[float]) -> float:
    """Mid-rank percentile of ``value`` in ``sample`` (ties count half)."""
    below = sum(1 for x in sample if x < value)
    equal = sum(1 for x in sample if x == value)
    return 100.0 * (below + equal / 2) / len(sample)


@dataclass(frozen=True)
class CalibrationRow:
    statistic: str
    published: str
    simulated_mean: float
    simulated_spread: str  # 10th-90th percentile, or blank for shares
    real_game: float | None
    real_percentile: float | None


_MEASURES = (
    ("points per team-game", lambda g: g.points_per_team),
    ("possessions per team-game", lambda g: g.possessions_per_team),
    ("3PA share of FGA", lambda g: g.three_point_share),
    ("FT rate (FTA / FGA)", lambda g: g.free_throw_rate),
    ("turnovers per team-game", lambda g: g.turnovers / 2),
    ("offensive rebounds per team-game", lambda g: g.offensive_rebounds / 2),
    ("share of games to overtime", lambda g: float(g.overtime)),
    ("final margin within 3", lambda g: float(g.margin <= 3)),
    ("final margin within 5", lambda g: float(g.margin <= 5)),
    ("final margin within 10", lambda g: float(g.margin <= 10)),
    ("final margin (points)", lambda g: float(g.margin)),
    ("lead changes per game", lambda g: float(g.lead_changes)),
    ("longest scoring run (points)", lambda g: float(g.longest_run)),
)
_SHARES = {"share of games to overtime", "final margin within 3", "final margin within 5", "final margin within 10"}


def _published(league: str) -> dict[str, str]:
    params = league_parameters(league)
    model = possession_model(params)
    lead_changes = PUBLISHED_LEAD_CHANGES.get(params.league)
    return {
        "points per team-game": f"{params.points:.1f}",
        "possessions per team-game": f"{model.possessions_per_game:.1f} (B-Ref pace {params.pace:.1f})",
        "3PA share of FGA": f"{params.fg3a / params.fga:.3f}",
        "FT rate (FTA / FGA)": f"{params.fta / params.fga:.3f}",
        "turnovers per team-game": f"{params.tov:.1f}",
        "offensive rebounds per team-game": f"{params.orb:.1f}",
        "share of games to overtime": f"~{params.overtime_share:.2f}",
        "lead changes per game": lead_changes or "",
    }


def calibration(
    league: str, n_games: int = 2000, seed: int = 1, real_game: Sequence[dict[str, Any]] | None = None
) -> list[CalibrationRow]:
    """The comparison table: published value, simulated mean (and 10th-90th percentiles), real game, percentile."""
    games = list(simulated_games(league, n_games, seed))
    real = game_statistics(real_game) if real_game else None
    published = _published(league)
    rows = []
    for name, measure in _MEASURES:
        values = sorted(measure(g) for g in games)
        spread = "" if name in _SHARES else f"{values[len(values) // 10]:.3g}-{values[len(values) * 9 // 10]:.3g}"
        real_value = measure(real) if real else None
        rows.append(
            CalibrationRow(
                name,
                published.get(name, ""),
                statistics.fmean(values),
                spread,
                real_value,
                None if real_value is None or name in _SHARES else percentile(real_value, values),
            )
        )
    return rows


def format_table(rows: Sequence[CalibrationRow]) -> str:
    """The table as Markdown (as in docs/basketball-simulator.md)."""
    lines = [
        "| statistic | published | simulated mean | simulated 10th-90th pct | real game | real game's percentile |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        real = "" if row.real_game is None else f"{row.real_game:.3g}"
        pct = "" if row.real_percentile is None else f"{row.real_percentile:.0f}"
        lines.append(
            f"| {row.statistic} | {row.published} | {row.simulated_mean:.3g} | {row.simulated_spread} | {real} | {pct} |"
        )
    return "\n".join(lines)
