"""The adapter of each league's feed format."""

from __future__ import annotations

from connectors.exceptions import InputError
from connectors.sources.feeds.base import FeedAdapter
from connectors.sources.feeds.nba_playbyplayv2 import NbaPlaybyplayV2Adapter
from connectors.sources.feeds.nfl_gamecenter import NflGamecenterAdapter

ADAPTERS: dict[str, type] = {"NFL": NflGamecenterAdapter, "NBA": NbaPlaybyplayV2Adapter}


def adapter_for(league: str) -> FeedAdapter:
    """The adapter of ``league``'s feed (NFL: GameCenter JSON; NBA: stats.nba.com playbyplayv2)."""
    try:
        return ADAPTERS[league.upper()]()
    except KeyError:
        raise InputError(f"no feed adapter for league {league!r} (one of {', '.join(ADAPTERS)})") from None
