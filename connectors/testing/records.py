"""Valid sample records for tests of code that consumes Wire Report's topics."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from streams.games.play_decisions import command_id

# The real recorded data shipped with the package (NFL and NBA plays, schedules, metrics).
SAMPLE_DATA = Path(__file__).resolve().parents[1] / "sample_data"


def tweet_command(account: str, play_id: str, at: datetime, game_id: str = "2018090912", **fields: Any) -> dict:
    """A TweetCommand for ``account`` about ``play_id`` of ``game_id`` (its real deterministic id); ``fields`` override."""
    return {
        "command_id": command_id(account, game_id, play_id),
        "account": account,
        "league": "NFL",
        "game_id": game_id,
        "play_id": play_id,
        "text": f"Lead change! Packers 24, Bears 23 (play {play_id})",
        "style": "lead_change",
        "urgency": "high",
        "significance": 71.5,
        "win_prob_home": 0.62,
        "occurred_at": at,
        **fields,
    }
