"""League scaling profiles (base/max agents, peak hours, game-day and breaking-news multipliers, seasons).

Numbers come from the old system's predictive-scaling guide; settings may replace them
(``WIREREPORT_SCALING_PROFILES`` as JSON: ``{"NBA": {"base_agents": 20}, ...}``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import datetime
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class LeagueProfile:
    """How a league's load behaves and how far its agent pool may go."""

    league: str
    base_agents: int = 1
    max_agents: int = 150
    peak_hours: tuple[int, ...] = ()
    game_day_multiplier: float = 1.0
    breaking_news_multiplier: float = 1.0
    scaling_sensitivity: float = 0.7  # the forecast-error quantile kept as headroom: higher scales up earlier
    seasonal_pattern: dict[int, float] = field(default_factory=dict)  # month -> multiplier
    timezone: str = "America/New_York"
    game_duration_seconds: int = 4 * 3600

    def local_time(self, t: float) -> datetime:
        return datetime.fromtimestamp(t, ZoneInfo(self.timezone))

    def seasonal_multiplier(self, t: float) -> float:
        return self.seasonal_pattern.get(self.local_time(t).month, 1.0)

    def floor_agents(self, t: float) -> int:
        """Agents kept at least: the base pool in peak hours, half of it otherwise, by season."""
        local = self.local_time(t)
        base = self.base_agents if (not self.peak_hours or local.hour in self.peak_hours) else self.base_agents / 2
        season = self.seasonal_pattern.get(local.month, 1.0)
        if season > 1.5:  # high season: the old system kept 20% more
            base *= 1.2
        return max(1, round(base))

    def ceiling_agents(self, t: float) -> int:
        """At most ``max_agents``; 60% of it off-season (seasonal multiplier < 0.5)."""
        if self.seasonal_multiplier(t) < 0.5:
            return max(self.base_agents, int(self.max_agents * 0.6))
        return self.max_agents


_SEASON_NFL = {9: 1.2, 10: 1.2, 11: 1.3, 12: 1.4, 1: 1.6, 2: 1.8, 3: 0.4, 4: 0.6, 5: 0.3, 6: 0.2, 7: 0.3, 8: 0.8}
_SEASON_NBA = {10: 1.0, 11: 1.2, 12: 1.3, 1: 1.3, 2: 1.3, 3: 1.4, 4: 1.6, 5: 1.7, 6: 1.8, 7: 0.5, 8: 0.3, 9: 0.3}
_SEASON_WNBA = {5: 1.0, 6: 1.1, 7: 1.2, 8: 1.3, 9: 1.6, 10: 1.7, 11: 0.3, 12: 0.2, 1: 0.2, 2: 0.2, 3: 0.3, 4: 0.5}

DEFAULT_PROFILES: dict[str, LeagueProfile] = {
    "NFL": LeagueProfile(
        "NFL",
        base_agents=20,
        max_agents=50,
        peak_hours=(13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23),
        game_day_multiplier=3.0,
        breaking_news_multiplier=3.0,
        scaling_sensitivity=0.8,
        seasonal_pattern=_SEASON_NFL,
    ),
    "NBA": LeagueProfile(
        "NBA",
        base_agents=15,
        max_agents=40,
        peak_hours=(18, 19, 20, 21, 22, 23),
        game_day_multiplier=2.5,
        breaking_news_multiplier=3.0,
        scaling_sensitivity=0.7,
        seasonal_pattern=_SEASON_NBA,
    ),
    "WNBA": LeagueProfile(
        "WNBA",
        base_agents=8,
        max_agents=25,
        peak_hours=(15, 16, 17, 18, 19, 20),
        game_day_multiplier=2.0,
        breaking_news_multiplier=2.5,
        scaling_sensitivity=0.6,
        seasonal_pattern=_SEASON_WNBA,
    ),
}


def scaling_sensitivity(profiles: dict[str, LeagueProfile], league: str) -> float:
    """The league's headroom quantile: its profile's ``scaling_sensitivity`` (the default profile's if none)."""
    return profiles.get(league, LeagueProfile(league)).scaling_sensitivity


def load_profiles(overrides_json: str | None = None) -> dict[str, LeagueProfile]:
    """The default profiles, with fields replaced from a JSON object keyed by league (from settings)."""
    profiles = dict(DEFAULT_PROFILES)
    if not overrides_json:
        return profiles
    try:
        data = json.loads(overrides_json)
    except json.JSONDecodeError as exc:
        raise ValueError(f"scaling profiles are not valid JSON: {exc}") from None
    for league, fields in data.items():
        base = profiles.get(league, LeagueProfile(league))
        if "peak_hours" in fields:
            fields["peak_hours"] = tuple(fields["peak_hours"])
        if "seasonal_pattern" in fields:
            fields["seasonal_pattern"] = {int(k): float(v) for k, v in fields["seasonal_pattern"].items()}
        try:
            profiles[league] = replace(base, **fields)
        except TypeError as exc:
            raise ValueError(f"bad scaling profile for {league}: {exc}") from None
    return profiles
