"""Canary analysis: injected errors or latency are detected; healthy or too-small changes pass."""

from __future__ import annotations

import random

import pytest

from streams.deployments.canary_analysis import CanaryPolicy, add_sample, analyze_canary, split_samples

POLICY = CanaryPolicy(alpha=0.05, min_samples=10, min_error_rate_increase=0.01, min_latency_increase=0.10)


def samples(n, error, latency, seed, start=0, version=None):
    rnd = random.Random(seed)
    return [[start + i * 30_000, max(0.0, rnd.gauss(*error)), rnd.gauss(*latency), version] for i in range(n)]


def test_injected_errors_are_a_regression():
    before = samples(30, (0.005, 0.002), (100, 5), seed=1)
    after = samples(12, (0.08, 0.02), (100, 5), seed=2)
    verdict = analyze_canary(before, after, POLICY)
    assert verdict["verdict"] == "regression"
    assert verdict["error_rate_p"] < 0.025
    assert verdict["latency_p"] > 0.025
    assert verdict["reason"].startswith("regression: error rate")


def test_injected_latency_is_a_regression():
    verdict = analyze_canary(
        samples(30, (0.005, 0.002), (100, 5), seed=1), samples(12, (0.005, 0.002), (140, 8), seed=3), POLICY
    )
    assert verdict["verdict"] == "regression"
    assert verdict["latency_p"] < 0.025
    assert verdict["latency_after_ms"] > 130
    assert "median latency" in verdict["reason"]


@pytest.mark.parametrize("seed", range(20))
def test_healthy_canary_passes(seed):
    before = samples(30, (0.005, 0.002), (100, 5), seed=seed)
    after = samples(12, (0.005, 0.002), (100, 5), seed=1000 + seed)
    verdict = analyze_canary(before, after, POLICY)
    assert verdict["verdict"] == "pass", verdict["reason"]
    assert verdict["reason"].startswith("healthy:")


def test_significant_but_tiny_rise_is_not_a_regression():
    # latency +3 % with very low noise: significant, but under the 10 % minimum effect
    before = samples(40, (0.005, 0.0), (100, 0.5), seed=4)
    after = samples(40, (0.005, 0.0), (103, 0.5), seed=5)
    verdict = analyze_canary(before, after, POLICY)
    assert verdict["latency_p"] < 1e-6
    assert verdict["verdict"] == "pass"


def test_improvement_is_not_a_regression():
    verdict = analyze_canary(
        samples(30, (0.05, 0.01), (150, 5), seed=6), samples(12, (0.001, 0.001), (90, 5), seed=7), POLICY
    )
    assert verdict["verdict"] == "pass"
    assert verdict["error_rate_p"] > 0.9 and verdict["latency_p"] > 0.9


def test_too_few_samples_is_inconclusive():
    verdict = analyze_canary(samples(30, (0, 0), (100, 5), 1), samples(9, (0.5, 0), (500, 5), 2), POLICY)
    assert verdict["verdict"] == "inconclusive"
    assert "need 10 on each side" in verdict["reason"]


def test_all_zero_error_rates_give_no_evidence():
    before = [[i, 0.0, None, None] for i in range(20)]
    after = [[100 + i, 0.0, None, None] for i in range(20)]
    verdict = analyze_canary(before, after, POLICY)
    assert verdict["verdict"] == "pass" and verdict["error_rate_p"] == 1.0 and verdict["latency_p"] is None


def test_split_uses_time_and_version():
    buf = []
    for s in (
        [1_000, 0.0, 100.0, "v1"],  # too old for the baseline
        [50_000, 0.0, 100.0, "v1"],  # baseline
        [55_000, 0.9, 900.0, "v2"],  # an earlier (failed) canary of v2: not a baseline
        [60_000, 0.0, 100.0, None],  # baseline (no version reported)
        [61_000, 0.0, 100.0, "v2"],  # between decision and applied: neither
        [70_000, 0.1, 120.0, "v2"],  # after
        [71_000, 0.1, 120.0, "v1"],  # still the old version after "applied": not counted
    ):
        buf = add_sample(buf, s, horizon_ms=10**9)
    before, after = split_samples(buf, decided_at_ms=61_000, applied_at_ms=65_000, baseline_ms=20_000, new_version="v2")
    assert [s[0] for s in before] == [50_000, 60_000]
    assert [s[0] for s in after] == [70_000]


def test_add_sample_keeps_order_dedupes_and_trims():
    buf = []
    for ts in (30, 10, 20, 20, 100):
        buf = add_sample(buf, [ts, 0.0, 1.0, None], horizon_ms=80)
    assert [s[0] for s in buf] == [20, 30, 100]
