"""What every feed adapter shares: the game followed, a converted document, and the malformed-document error."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from connectors.exceptions import ConnectorError


class MalformedFeed(ConnectorError):
    """A fetched document that cannot be read as the feed's format; nothing is produced from it."""


@dataclass(frozen=True)
class FeedGame:
    """A scheduled game to follow. ``season``/``season_type`` are the NFL schedule's (they set overtime length)."""

    league: str
    game_id: str
    home_team: str
    away_team: str
    scheduled_start: datetime
    season: int | None = None
    season_type: str | None = None

    @property
    def label(self) -> str:
        return f"{self.league} {self.game_id} {self.away_team}@{self.home_team}"

    def scheduled_game(self) -> dict[str, Any]:
        """The ScheduledGame JSON form."""
        return {
            "league": self.league,
            "game_id": self.game_id,
            "home_team": self.home_team,
            "away_team": self.away_team,
            "scheduled_start": iso(self.scheduled_start),
        }


@dataclass(frozen=True)
class FeedSnapshot:
    """One fetched document converted: the game (None until the document tells it), the Play records that no
    later document can change, in order, and whether the game is over."""

    schedule: dict[str, Any] | None
    plays: list[dict[str, Any]]
    final: bool


class FeedAdapter(Protocol):
    league: str

    def convert(self, body: bytes, game: FeedGame) -> FeedSnapshot:
        """Convert one fetched document; raise ``MalformedFeed`` with a readable reason."""
        ...


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
