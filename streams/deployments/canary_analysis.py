"""Canary analysis (pure): did error rate or latency get worse after the deploy? One-sided Mann-Whitney U.

A metric regresses when its samples after the deploy are stochastically greater than before
(``scipy.stats.mannwhitneyu(after, before, alternative="greater")``, p below alpha divided by the number of
metrics tested, Bonferroni) AND the rise is large enough to matter: mean error rate up by at least
``min_error_rate_increase`` (absolute) or median latency up by at least ``min_latency_increase`` (relative).

Samples are JSON-able lists ``[observed_at_ms, error_rate, latency_ms, version]`` (missing values are None),
built from SystemMetrics records by :func:`sample_of`.
"""

from __future__ import annotations

import bisect
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypedDict

from scipy.stats import mannwhitneyu

Sample = list  # [observed_at_ms: int, error_rate: float | None, latency_ms: float | None, version: str | None]


class CanaryVerdict(TypedDict):
    """The canary analysis of a deployment (``CanaryVerdict``, kept in its DeploymentState)."""

    verdict: str  # pass, regression or inconclusive
    reason: str
    samples_before: int
    samples_after: int
    error_rate_p: float | None  # one-sided Mann-Whitney U p-value (after > before)
    latency_p: float | None
    error_rate_before: float | None  # mean
    error_rate_after: float | None
    latency_before_ms: float | None  # median
    latency_after_ms: float | None


@dataclass(frozen=True)
class CanaryPolicy:
    alpha: float = 0.05
    min_samples: int = 10
    min_error_rate_increase: float = 0.01
    min_latency_increase: float = 0.10


def epoch_ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


def sample_of(metrics: Mapping[str, Any]) -> Sample:
    """The canary sample of one SystemMetrics record."""
    return [
        epoch_ms(metrics["observed_at"]),
        metrics.get("error_rate"),
        metrics.get("latency_ms"),
        metrics.get("version"),
    ]


def add_sample(buffer: list[Sample], sample: Sample, horizon_ms: int) -> list[Sample]:
    """Insert ``sample`` in time order and drop samples older than ``horizon_ms`` before the newest one."""
    if not buffer or sample[0] > buffer[-1][0]:  # the usual case: the newest sample
        out = [*buffer, sample]
    else:  # late or redelivered: replace a sample of the same timestamp, keep the order
        out = sorted([*(s for s in buffer if s[0] != sample[0]), sample], key=lambda s: s[0])
    first = bisect.bisect_left(out, out[-1][0] - horizon_ms, key=lambda s: s[0])
    return out[first:]


def split_samples(
    samples: Sequence[Sample],
    *,
    decided_at_ms: int,
    applied_at_ms: int,
    baseline_ms: int,
    new_version: str,
) -> tuple[list[Sample], list[Sample]]:
    """Baseline (before the deploy decision, not on the new version) and canary samples (after it was applied)."""
    before = [s for s in samples if decided_at_ms - baseline_ms <= s[0] < decided_at_ms and s[3] != new_version]
    after = [s for s in samples if s[0] >= applied_at_ms and s[3] in (None, new_version)]
    return before, after


def _values(samples: Sequence[Sample], index: int) -> list[float]:
    return [float(s[index]) for s in samples if s[index] is not None and math.isfinite(float(s[index]))]


def _p_greater(after: list[float], before: list[float]) -> float:
    if len(set(after) | set(before)) == 1:  # every value identical: no evidence of anything
        return 1.0
    return float(mannwhitneyu(after, before, alternative="greater").pvalue)


def analyze_canary(before: Sequence[Sample], after: Sequence[Sample], policy: CanaryPolicy) -> CanaryVerdict:
    """Compare the canary's samples after the deploy with the baseline; return a CanaryVerdict (JSON form).

    ``verdict`` is ``regression`` (a significant, large enough rise of a metric), ``pass`` (at least one metric
    tested, none regressed) or ``inconclusive`` (fewer than ``min_samples`` values on a side for every metric).
    """
    err_b, err_a = _values(before, 1), _values(after, 1)
    lat_b, lat_a = _values(before, 2), _values(after, 2)
    n = policy.min_samples
    tests = []
    if len(err_b) >= n and len(err_a) >= n:
        tests.append("error_rate")
    if len(lat_b) >= n and len(lat_a) >= n:
        tests.append("latency")
    verdict: CanaryVerdict = {
        "verdict": "inconclusive",
        "reason": "",
        "samples_before": len(before),
        "samples_after": len(after),
        "error_rate_p": None,
        "latency_p": None,
        "error_rate_before": statistics.fmean(err_b) if err_b else None,
        "error_rate_after": statistics.fmean(err_a) if err_a else None,
        "latency_before_ms": statistics.median(lat_b) if lat_b else None,
        "latency_after_ms": statistics.median(lat_a) if lat_a else None,
    }
    if not tests:
        verdict["reason"] = (
            f"not enough samples: need {n} on each side "
            f"(error rate {len(err_b)}/{len(err_a)}, latency {len(lat_b)}/{len(lat_a)} before/after)"
        )
        return verdict
    level = policy.alpha / len(tests)
    findings, regressions = [], []
    if "error_rate" in tests:
        p = _p_greater(err_a, err_b)
        verdict["error_rate_p"] = p
        rise = verdict["error_rate_after"] - verdict["error_rate_before"]
        bad = p < level and rise >= policy.min_error_rate_increase
        text = (
            f"error rate {verdict['error_rate_before']:.2%} -> {verdict['error_rate_after']:.2%} "
            f"(p={p:.2g}{' <' if p < level else ' >='} {level:.3g})"
        )
        (regressions if bad else findings).append(text)
    if "latency" in tests:
        p = _p_greater(lat_a, lat_b)
        verdict["latency_p"] = p
        base, now = verdict["latency_before_ms"], verdict["latency_after_ms"]
        rise = (now - base) / base if base > 0 else (math.inf if now > base else 0.0)
        bad = p < level and rise >= policy.min_latency_increase
        text = f"median latency {base:.1f} -> {now:.1f} ms (p={p:.2g}{' <' if p < level else ' >='} {level:.3g})"
        (regressions if bad else findings).append(text)
    if regressions:
        verdict["verdict"] = "regression"
        verdict["reason"] = "regression: " + "; ".join(regressions + findings)
    else:
        verdict["verdict"] = "pass"
        verdict["reason"] = "healthy: " + "; ".join(findings)
    return verdict
