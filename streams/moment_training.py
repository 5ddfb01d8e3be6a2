"""Fitting the moment-rate table from past games (pure: plays in, table out)."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import groupby
from typing import Any

from streams import moment_rates, team_ratings
from streams.play_decisions import assess, mark_tweeted, new_game_state, same_moment
from streams.win_probability.nfl_training import game_results


def game_moments(plays: Sequence[dict[str, Any]], strength: float = 0.0) -> list[tuple[int, int, float]]:
    """(phase, closeness, moment value or 0) per play of one game, moments grouped as the decisions do."""
    out: list[tuple[int, int, float]] = []
    if not plays:
        return out
    game = new_game_state(plays[0], strength)
    for play in plays:
        wp, sig, pending = assess(play, game)
        covered = not sig["should_tweet"] or same_moment(game, sig, play)
        game.update(
            home_score=play["home_score"],
            away_score=play["away_score"],
            win_prob_home=wp,
            pending=pending,
            plays_seen=game["plays_seen"] + 1,
        )
        if not covered:
            mark_tweeted(game, sig, play)
        league = play["league"]
        ph = moment_rates.phase(league, play["period"], play["clock_seconds"])
        out.append((ph, moment_rates.closeness(wp), 0.0 if covered else sig["value"]))
    return out


def fit_table(plays: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The moment-rate table from plays given game after game (each game's plays in order)."""
    strength, _ = team_ratings.replay(game_results(plays), plays[0]["league"] if plays else "NFL")
    games = (
        game_moments(list(game), strength.get(gid, 0.0)) for gid, game in groupby(plays, key=lambda p: p["game_id"])
    )
    return moment_rates.fit(games)
