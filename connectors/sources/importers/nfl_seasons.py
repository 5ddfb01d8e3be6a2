"""Whole NFL seasons as Play records (regular season and playoffs), for training and evaluation."""

from __future__ import annotations

from typing import Any

from connectors.sources.importers import nfl


def season_plays(season: int, season_types: tuple[str, ...] = ("REG", "POST")) -> list[dict[str, Any]]:
    """Every play of a season, game after game (each game's plays in order)."""
    plays: list[dict[str, Any]] = []
    for season_type in season_types:
        for _info, records in nfl.import_games(nfl.select_games(season, season_type=season_type)):
            plays.extend(records)
    return plays


def season_schedule(season: int, season_types: tuple[str, ...] = ("REG", "POST")) -> list[dict[str, Any]]:
    """ScheduledGame JSON records of a season."""
    return [nfl.scheduled_game(info) for st in season_types for info in nfl.select_games(season, season_type=st)]
