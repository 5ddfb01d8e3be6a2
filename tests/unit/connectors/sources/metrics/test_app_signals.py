"""Canary signals from a league server's recorded Prometheus text: deltas, resets, outages, configured names."""

from __future__ import annotations

import logging

import pytest

from connectors.sources.metrics.app_signals import (
    AppSignalReader,
    AppSignals,
    Counters,
    SignalNames,
    read_counters,
    signals_between,
)


def exposition(ok: float, errors: float, latency_sum: float, latency_count: float, version: str = "v1.4.2") -> str:
    """What a prometheus-client league server prints (typed counter with _created, histogram, build info)."""
    return f"""# HELP http_requests_total Requests served.
# TYPE http_requests_total counter
http_requests_total{{method="GET",status="200"}} {ok}
http_requests_created{{method="GET",status="200"}} 1.7e9
http_requests_total{{method="GET",status="503"}} {errors * 0.75}
http_requests_total{{method="POST",status="500"}} {errors * 0.25}
http_requests_total{{method="GET",status="404"}} 5.0
# HELP http_request_duration_seconds Request time.
# TYPE http_request_duration_seconds histogram
http_request_duration_seconds_bucket{{le="0.1"}} {latency_count}
http_request_duration_seconds_bucket{{le="+Inf"}} {latency_count}
http_request_duration_seconds_sum {latency_sum}
http_request_duration_seconds_count {latency_count}
# HELP league_server_build_info Build.
# TYPE league_server_build_info gauge
league_server_build_info{{version="{version}",revision="abc"}} 1.0
"""


def test_counters_are_summed_over_label_sets():
    counters = read_counters(exposition(100, 8, 2.5, 50), SignalNames())
    assert counters == Counters(requests=113.0, errors=8.0, latency_sum=2.5, latency_count=50.0, version="v1.4.2")


def test_signals_are_rates_over_the_interval():
    before = read_counters(exposition(100, 8, 2.5, 50), SignalNames())
    after = read_counters(exposition(190, 18, 4.5, 150), SignalNames())
    signals = signals_between(before, after)
    assert signals.error_rate == pytest.approx(10 / 100)  # 10 errors of 100 requests since the last scrape
    assert signals.latency_ms == pytest.approx(2.0 / 100 * 1000)
    assert signals.version == "v1.4.2"


def test_first_scrape_has_only_the_version():
    assert signals_between(None, read_counters(exposition(1, 0, 0, 0), SignalNames())) == AppSignals(version="v1.4.2")


def test_no_request_in_the_interval_is_no_rate():
    counters = read_counters(exposition(100, 8, 2.5, 50), SignalNames())
    assert signals_between(counters, counters) == AppSignals(None, None, "v1.4.2")


def test_a_restarted_server_counts_from_zero():
    before = Counters(requests=1000, errors=10, latency_sum=50, latency_count=1000, version="v1")
    after = Counters(requests=40, errors=4, latency_sum=2, latency_count=40, version="v2")
    signals = signals_between(before, after)
    assert (signals.error_rate, signals.latency_ms, signals.version) == (pytest.approx(0.1), pytest.approx(50), "v2")


def test_one_counter_that_went_down_means_every_counter_restarted_from_zero():
    # a young process (restarted soon after a deploy) is replaced by one that already served more requests
    # than it did, with fewer errors: every counter counts since the restart, not only the errors
    before = Counters(requests=100, errors=20, latency_sum=12, latency_count=100)
    after = Counters(requests=150, errors=1, latency_sum=6, latency_count=150)
    signals = signals_between(before, after)
    assert signals.error_rate == pytest.approx(1 / 150)
    assert signals.latency_ms == pytest.approx(6 / 150 * 1000)


def test_a_new_version_is_a_restart_even_when_every_counter_went_up():
    before = Counters(requests=100, errors=1, latency_sum=4, latency_count=100, version="v3-bad")
    after = Counters(requests=150, errors=3, latency_sum=6, latency_count=150, version="v2-good")
    signals = signals_between(before, after)
    assert (signals.error_rate, signals.latency_ms) == (pytest.approx(3 / 150), pytest.approx(40))


def test_without_a_restart_the_interval_is_the_difference():
    before = Counters(requests=100, errors=1, latency_sum=4, latency_count=100, version="v1")
    after = Counters(requests=150, errors=3, latency_sum=6, latency_count=150, version="v1")
    signals = signals_between(before, after)
    assert (signals.error_rate, signals.latency_ms) == (pytest.approx(2 / 50), pytest.approx(40))


def test_names_are_configurable_and_untyped_counters_work():
    text = """app_calls_total{code="E1"} 3
app_calls_total{code="OK"} 7
rpc_seconds_sum 1.0
rpc_seconds_count 4
"""
    names = SignalNames(requests="app_calls_total", error_label="code", error_pattern="E.*", latency="rpc_seconds")
    assert read_counters(text, names) == Counters(10.0, 3.0, 1.0, 4.0, None)


def test_a_server_without_those_metrics_gives_nothing():
    counters = read_counters("other_metric 1\n", SignalNames())
    assert counters == Counters()
    assert signals_between(counters, counters) == AppSignals()


def test_the_reader_keeps_the_previous_scrape_and_logs_an_outage_once(caplog):
    pages = [exposition(100, 8, 2.5, 50), exposition(190, 18, 4.5, 150)]
    pages += [exposition(290, 18, 6.5, 250, version="v1.5.0"), exposition(390, 18, 8.5, 350, version="v1.5.0")]
    failing = {"now": False}
    up = []

    def fetch(url, timeout):
        if failing["now"]:
            raise ConnectionRefusedError("connection refused")
        return pages.pop(0)

    reader = AppSignalReader("http://league:9100/metrics", fetch=fetch, on_up=up.append)
    assert reader() == AppSignals(version="v1.4.2")
    assert reader().error_rate == pytest.approx(0.1)
    failing["now"] = True
    with caplog.at_level(logging.WARNING, logger="connectors.sources.metrics.app_signals"):
        assert [reader() for _ in range(5)] == [AppSignals()] * 5
        failing["now"] = False
        assert reader() == AppSignals(version="v1.5.0")  # no rate across the outage
        assert reader() == AppSignals(0.0, pytest.approx(20.0), "v1.5.0")
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2
    assert "unreachable" in messages[0] and "connection refused" in messages[0]
    assert "reachable again" in messages[1]
    assert up == [True, True, False, False, False, False, False, True, True]


def test_a_body_that_is_not_prometheus_text_is_an_outage(caplog):
    reader = AppSignalReader("http://league/metrics", fetch=lambda url, timeout: "<html>{ not metrics")
    assert reader() == AppSignals()
    assert reader.outage is not None


def test_the_agent_sends_the_signals_it_reads(tmp_path):
    from connectors.sources.metrics.agent import MetricsAgent
    from connectors.sources.metrics.workload import Reading

    signals = iter([AppSignals(version="v2"), AppSignals(0.02, 31.5, "v2"), AppSignals(-1.0, None, "v2")])
    agent = MetricsAgent(
        "nba-1",
        "NBA",
        "127.0.0.1:1",  # never reached: only sampling is tested here
        tmp_path,
        workload=lambda: Reading(5.0),
        sampler=lambda: {"cpu_percent": 1.0, "memory_percent": 1.0, "disk_percent": 1.0},
        app_signals=lambda: next(signals),
    )
    try:
        first, second = agent.sample(), agent.sample()
        assert (first["error_rate"], first["latency_ms"], first["version"]) == (None, None, "v2")
        assert (second["error_rate"], second["latency_ms"], second["version"]) == (0.02, 31.5, "v2")
        assert agent.sample() is None and agent.skipped == 1  # a negative rate is never sent
    finally:
        agent.close()
