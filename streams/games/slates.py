"""The clock of an account's tweets: time zones, slates (06:00 to 06:00 in the account's time zone), epoch seconds
and ISO text of the timestamps records and their JSON forms carry. Pure; every function takes a record's aware
datetime or its ISO-8601 text, and the ones on the games' hot path are cached or have a fast path for the first."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import cache, lru_cache
from typing import Any
from zoneinfo import ZoneInfo

SLATE_START_HOUR = 6  # a slate runs from 06:00 to 06:00 in the account's time zone


@cache
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def to_datetime(value: Any) -> datetime:
    """A timestamp from a record (aware datetime) or its JSON form (ISO-8601 text)."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


@cache
def _local_day_of_iso(text: str, tz: str) -> str:
    return to_datetime(text).astimezone(zone(tz)).date().isoformat()


def local_day(value: Any, tz: str = "America/New_York") -> str:
    """The calendar day (ISO date) of a timestamp in the account's time zone."""
    if isinstance(value, str):
        return _local_day_of_iso(value[:13] if value.endswith("Z") else value, tz)
    return to_datetime(value).astimezone(zone(tz)).date().isoformat()


def _slate_of_datetime(moment: datetime, tz: str) -> str:
    # every zone's offset is a whole number of quarter hours, so a slate (turning on a local hour) is the same
    # for the whole quarter hour: the worker, with a datetime per play, works it out once per quarter
    return _slate_of_quarter(int(moment.timestamp() // QUARTER_HOUR), tz)


QUARTER_HOUR = 900


@lru_cache(maxsize=4096)
def _slate_of_quarter(quarter: int, tz: str) -> str:
    local = datetime.fromtimestamp(quarter * QUARTER_HOUR, UTC).astimezone(zone(tz))
    return (local - timedelta(hours=SLATE_START_HOUR)).date().isoformat()  # wall-clock arithmetic: DST-safe


@cache
def _slate_of_iso(text: str, tz: str) -> str:
    return _slate_of_datetime(to_datetime(text), tz)


def slate_of(value: Any, tz: str = "America/New_York") -> str:
    """The slate of a timestamp: the ISO date of the 06:00 (account's time zone) that opened it.

    A play at 01:30 ET on a Sunday belongs to Saturday's slate.
    """
    if isinstance(value, str):
        return _slate_of_iso(value[:13] if value.endswith("Z") else value, tz)  # slates turn on the hour
    return _slate_of_datetime(to_datetime(value), tz)


@cache
def slate_end(slate: str, tz: str = "America/New_York") -> float:
    """When a slate closes (epoch seconds): 06:00 of the next day (23 or 25 hours after it opened on DST days)."""
    day = date.fromisoformat(slate) + timedelta(days=1)
    return datetime.combine(day, time(SLATE_START_HOUR), tzinfo=zone(tz)).timestamp()


def epoch(value: Any) -> float:
    """Epoch seconds of a timestamp from a record or its JSON form."""
    if isinstance(value, str):
        return _epoch_of_iso(value)
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.timestamp()
    return to_datetime(value).timestamp()


@lru_cache(maxsize=4096)
def _epoch_of_iso(text: str) -> float:
    # the rolling window reads its tweets' ISO times on every play: parse each once
    return to_datetime(text).timestamp()


def iso(value: Any) -> str:
    """ISO-8601 UTC text (``Z``) of a timestamp; JSON text is kept as it came."""
    if isinstance(value, str):
        return value
    if isinstance(value, datetime) and value.tzinfo is UTC:  # a record's time, as the worker decodes it
        return value.isoformat()[:-6] + "Z"
    return to_datetime(value).isoformat().replace("+00:00", "Z")
