"""Request (``*Create``) and response (``*Public``) models.

Create models forbid unknown fields: server-owned properties (ids, ``created_by``, ``created_at``,
``requested_by``) cannot be set by a client (mass assignment, OWASP API3).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, model_validator

League = Literal["NFL", "NBA", "WNBA"]
MAX_AGENTS = 150  # seed: hard ceiling of agents per league
WEEK = 7 * 86400
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
MAX_AHEAD = timedelta(days=366)  # how far ahead an event or a silence may be scheduled
MAX_BEHIND = timedelta(days=1)  # how far back an event or a silence may be said to have started


def _sane(value: datetime) -> datetime:
    """A timestamp between 2000 and 2100, in UTC: anything else is a typo or an attack, and the arithmetic the
    agents do on it (start + duration, conversion to UTC) must never overflow."""
    if not EARLIEST.year - 1 <= value.year < LATEST.year or not EARLIEST <= value.astimezone(UTC) < LATEST:
        raise ValueError(f"must be between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d}")
    return value.astimezone(UTC)


Moment = Annotated[AwareDatetime, AfterValidator(_sane)]


def _encodable(value: Any) -> None:
    """Every string must be valid UTF-8 (JSON lets a lone surrogate through; Avro and the ids need bytes)."""
    if isinstance(value, str):
        try:
            value.encode()
        except UnicodeEncodeError:
            raise ValueError("text must be valid Unicode (no lone surrogates)") from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _encodable(key)
            _encodable(item)
    elif isinstance(value, list):
        for item in value:
            _encodable(item)


class _Create(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, allow_inf_nan=False)

    @model_validator(mode="after")
    def _valid_text(self):
        for name in type(self).model_fields:
            _encodable(getattr(self, name))
        return self


def _future(value: datetime | None, name: str) -> None:
    if value is not None and value <= datetime.now(UTC):
        raise ValueError(f"{name} must be in the future")


def _near_now(value: datetime | None, name: str) -> None:
    now = datetime.now(UTC)
    if value is not None and not now - MAX_BEHIND <= value <= now + MAX_AHEAD:
        raise ValueError(f"{name} must be within {MAX_BEHIND.days} day before and {MAX_AHEAD.days} days after now")


class OverrideCreate(_Create):
    """A manual scaling override for a league; it expires at ``expires_at`` or after ``ttl_seconds``."""

    league: League
    reason: str = Field(min_length=3, max_length=500)
    min_agents: int | None = Field(default=None, ge=0, le=MAX_AGENTS)
    max_agents: int | None = Field(default=None, ge=1, le=MAX_AGENTS)
    predictive_enabled: bool = True
    expires_at: Moment | None = None
    ttl_seconds: int | None = Field(default=None, ge=60, le=WEEK)

    @model_validator(mode="after")
    def _check(self) -> OverrideCreate:
        if (self.expires_at is None) == (self.ttl_seconds is None):
            raise ValueError("give exactly one of expires_at or ttl_seconds")
        _future(self.expires_at, "expires_at")
        if self.expires_at is not None and (self.expires_at - datetime.now(UTC)).total_seconds() > WEEK:
            raise ValueError("an override may last at most 7 days")
        if self.min_agents is not None and self.max_agents is not None and self.min_agents > self.max_agents:
            raise ValueError("min_agents must not exceed max_agents")
        return self


class LeagueEventCreate(_Create):
    """Event scaling (breaking news, trade deadline, draft ...): a load multiplier for a while."""

    league: League
    kind: str = Field(pattern=r"^[a-z][a-z0-9_]{1,39}$", examples=["breaking_news"])
    multiplier: float | None = Field(
        default=None, gt=0, le=10, description="Load multiplier; default: the league profile's breaking-news one."
    )
    duration_seconds: int = Field(ge=60, le=WEEK)
    starts_at: Moment | None = Field(default=None, description="Default: now; at most a year ahead.")
    description: str = Field(default="", max_length=500)

    @model_validator(mode="after")
    def _check(self) -> LeagueEventCreate:
        _near_now(self.starts_at, "starts_at")
        return self


_SERVER = r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,63}$"


class DeploymentCreate(_Create):
    """A deployment request: ``version`` to ``targets`` (the first is the canary) of a league."""

    version: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.+\-]{0,63}$", examples=["v1.4.2"])
    league: League | None = None
    targets: list[str] = Field(default_factory=list, max_length=500)
    strategy: Literal["canary", "all_at_once"] = "canary"
    force: bool = Field(default=False, description="Deploy even during a live game or outside the deploy windows.")

    @model_validator(mode="after")
    def _check(self) -> DeploymentCreate:
        bad = [t for t in self.targets if not re.match(_SERVER, t)]
        if bad:
            raise ValueError(f"bad server id {bad[0][:70]!r}")
        if len(set(self.targets)) != len(self.targets):
            raise ValueError("targets must not repeat")
        return self


class RollbackCreate(_Create):
    reason: str = Field(default="", max_length=500)
    version: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.+\-]{0,63}$")


class SilenceCreate(_Create):
    """Mute alerts whose labels equal every matcher, from ``starts_at`` (default now) to ``ends_at``."""

    matchers: dict[str, str] = Field(min_length=1, max_length=10, examples=[{"alertname": "HighCPU"}])
    ends_at: Moment | None = None
    duration_seconds: int | None = Field(default=None, ge=60, le=WEEK)
    starts_at: Moment | None = None
    comment: str = Field(min_length=3, max_length=500)

    @model_validator(mode="after")
    def _check(self) -> SilenceCreate:
        if (self.ends_at is None) == (self.duration_seconds is None):
            raise ValueError("give exactly one of ends_at or duration_seconds")
        _future(self.ends_at, "ends_at")
        _near_now(self.starts_at, "starts_at")
        start = self.starts_at or datetime.now(UTC)
        if self.ends_at is not None and not timedelta(0) < self.ends_at - start <= timedelta(seconds=WEEK):
            raise ValueError("a silence must end after it starts and last at most 7 days")
        for k, v in self.matchers.items():
            if not (0 < len(k) <= 64 and 0 < len(v) <= 200):
                raise ValueError("matcher names must be 1-64 and values 1-200 characters")
        return self


class ControlCreate(_Create):
    """Why an operator retries or cancels a tweet, or pauses or resumes an account (kept with the control and
    audited)."""

    reason: str = Field(default="", max_length=500)


ACCOUNT_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


class AccountPublic(BaseModel):
    """An X account the API has heard of, and whether an operator paused it (from ``publisher-controls``)."""

    account: str
    league: League | None = Field(description="The league whose account it is (its name is the league's); else none.")
    paused: bool
    paused_reason: str | None = None
    paused_by: str | None = None
    paused_at: str | None = None


class Accepted(BaseModel):
    """The answer to an admin action: the command was acknowledged by Kafka."""

    command_id: str
    topic: str
    status: Literal["accepted"] = "accepted"
    record: dict[str, Any]
    audit_id: str | None = Field(default=None, description="The action's entry on audit-log (cancellations, flags).")


class CancelBody(_Create):
    """Why an override, an event or a silence is cancelled (or give ``?reason=``)."""

    reason: str = Field(min_length=3, max_length=500)


class FlagSet(_Create):
    """A feature flag's value, for every league (``league`` null) or one league."""

    value: bool | str = Field(examples=["forecast-only"])
    league: League | None = None
    reason: str = Field(min_length=3, max_length=500)


class Page(BaseModel):
    items: list[dict[str, Any]]
    total: int
    limit: int
    offset: int


class GamePublic(BaseModel):
    """The JSON form of a GameState record."""

    model_config = ConfigDict(extra="allow")
    game_id: str
    league: League
    home_team: str
    away_team: str
    home_score: int
    away_score: int
    period: int
    clock_seconds: int
    status: str
    win_prob_home: float | None = None
    updated_at: str


class GameDetail(BaseModel):
    game: GamePublic
    top_moments: list[dict[str, Any]] = Field(description="The game's most significant tweeted plays.")


class TokenRevocationCreate(_Create):
    """Revoke a token by its ``jti`` claim: the API refuses it (401) from the moment it reads the revocation."""

    jti: str = Field(pattern=r"^[A-Za-z0-9_\-]{1,128}$", examples=["3f2a9c0e5b7d4e1f8a6b2c4d9e0f1a2b"])
    reason: str = Field(default="", max_length=500)
