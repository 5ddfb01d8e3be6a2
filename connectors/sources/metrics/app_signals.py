"""Canary signals of a league server, read from its own Prometheus metrics: error rate, latency, version.

Each sample the metrics agent scrapes the server's text endpoint and compares it with the previous scrape:

* ``error_rate`` = (errors / requests) over the interval, from a request counter (default
  ``http_requests_total``) whose ``status`` label matches ``5..`` for errors;
* ``latency_ms`` = the mean request time over the interval, from a histogram's ``_sum``/``_count`` deltas;
* ``version`` = the ``version`` label of a ``*_build_info`` gauge.

A counter that went down, or a new version, means the server restarted (e.g. for a deploy): a restart resets every
counter of the process, so each one's value is then the delta (counted since the restart). Judging each counter
alone, as Prometheus's ``rate`` does per series, goes wrong when the old process was young (a rollback soon after
a deploy): a new process that already served more requests than the old one but had fewer errors would read as
a reset of the errors only, and the error rate of the interval would be errors since the restart over requests
since the previous scrape. With no previous scrape, or no request in the interval, there is no
rate: ``error_rate``/``latency_ms`` are ``None`` (canary analysis skips missing values). An unreachable endpoint
gives ``None`` for all three and one log line per outage, not one per sample.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SignalNames:
    """Which of the server's metrics say what (the settings' ``app_metrics_*``)."""

    requests: str = "http_requests_total"
    error_label: str = "status"
    error_pattern: str = "5.."
    latency: str = "http_request_duration_seconds"
    build_info_suffix: str = "_build_info"

    @classmethod
    def from_settings(cls, settings) -> SignalNames:
        return cls(
            requests=settings.app_metrics_requests,
            error_label=settings.app_metrics_error_label,
            error_pattern=settings.app_metrics_error_pattern,
            latency=settings.app_metrics_latency,
            build_info_suffix=settings.app_metrics_build_info,
        )


@dataclass(frozen=True)
class Counters:
    """The cumulative values read from one scrape (``None``: the server does not export it)."""

    requests: float | None = None
    errors: float | None = None
    latency_sum: float | None = None
    latency_count: float | None = None
    version: str | None = None


@dataclass(frozen=True)
class AppSignals:
    error_rate: float | None = None
    latency_ms: float | None = None
    version: str | None = None


NO_SIGNALS = AppSignals()


def _family_name(name: str) -> str:
    """The parser names a counter's family without ``_total``; accept the name either way."""
    return name[: -len("_total")] if name.endswith("_total") else name


def read_counters(text: str, names: SignalNames) -> Counters:
    """The counters ``names`` asks for, summed over their label sets, from Prometheus text ``text``.

    Raises ``ValueError`` when ``text`` is not the Prometheus text format.
    """
    base = _family_name(names.requests)
    requests_names = {base, f"{base}_total"}  # the counter named with or without its _total
    errors_re = re.compile(names.error_pattern)
    latency_sum_name, latency_count_name = f"{names.latency}_sum", f"{names.latency}_count"
    requests = errors = latency_sum = latency_count = None
    version = None
    for family in text_string_to_metric_families(text):
        # by sample name: an untyped exposition (no TYPE lines) makes a family of each sample name
        for sample in family.samples:
            name, value = sample.name, sample.value
            if not math.isfinite(value):
                continue
            if name in requests_names:
                requests = (requests or 0.0) + value
                label = sample.labels.get(names.error_label)
                errors = (errors or 0.0) + (value if label is not None and errors_re.fullmatch(label) else 0.0)
            elif name == latency_sum_name:
                latency_sum = (latency_sum or 0.0) + value
            elif name == latency_count_name:
                latency_count = (latency_count or 0.0) + value
            elif name.endswith(names.build_info_suffix) and value and sample.labels.get("version"):
                version = sample.labels["version"]
    return Counters(requests, errors, latency_sum, latency_count, version)


def _restarted(previous: Counters, current: Counters) -> bool:
    """Did the server restart between the two scrapes? (A counter went down, or it runs another version.)"""
    pairs = (
        (previous.requests, current.requests),
        (previous.errors, current.errors),
        (previous.latency_sum, current.latency_sum),
        (previous.latency_count, current.latency_count),
    )
    if any(p is not None and c is not None and c < p for p, c in pairs):
        return True
    return previous.version is not None and current.version is not None and previous.version != current.version


def _delta(previous: float | None, current: float | None, restarted: bool) -> float | None:
    if previous is None or current is None:
        return None
    return current if restarted else current - previous  # restarted: counted from 0


def signals_between(previous: Counters | None, current: Counters) -> AppSignals:
    """The signals over the interval between two scrapes (only the version without a previous one)."""
    if previous is None:
        return AppSignals(version=current.version)
    error_rate = latency_ms = None
    restarted = _restarted(previous, current)
    requests = _delta(previous.requests, current.requests, restarted)
    errors = _delta(previous.errors, current.errors, restarted)
    if requests and errors is not None:
        # errors are some of the requests; the bounds hold even if a server's label sets come and go
        error_rate = min(max(errors / requests, 0.0), 1.0)
    count = _delta(previous.latency_count, current.latency_count, restarted)
    total = _delta(previous.latency_sum, current.latency_sum, restarted)
    if count and total is not None:
        latency_ms = max(total / count, 0.0) * 1000.0
    return AppSignals(error_rate, latency_ms, current.version)


class AppSignalReader:
    """Scrapes ``url`` on each call and returns the signals since the previous call.

    ``fetch(url, timeout) -> text`` is httpx by default; any error of it (or a body that does not parse) is an
    outage: logged once when it starts and once when it ends.
    """

    def __init__(
        self,
        url: str,
        names: SignalNames | None = None,
        *,
        timeout: float = 2.0,
        fetch: Callable[[str, float], str] | None = None,
        on_up: Callable[[bool], None] = lambda up: None,
    ):
        self.url = url
        self.names = names or SignalNames()
        self.timeout = timeout
        self._fetch = fetch or _http_get
        self._on_up = on_up
        self._previous: Counters | None = None
        self.outage: str | None = None  # why the last scrape failed; None while it answers

    def __call__(self) -> AppSignals:
        try:
            current = read_counters(self._fetch(self.url, self.timeout), self.names)
        except Exception as exc:  # any failure to read is an outage: null signals, never a stopped agent
            if self.outage is None:
                log.warning("app metrics %s unreachable (%s): error_rate/latency/version sent as null", self.url, exc)
            self.outage = f"{type(exc).__name__}: {exc}"
            self._previous = None  # a rate across an outage would mix two intervals
            self._on_up(False)
            return NO_SIGNALS
        if self.outage is not None:
            log.warning("app metrics %s reachable again", self.url)
            self.outage = None
        self._on_up(True)
        signals = signals_between(self._previous, current)
        self._previous = current
        return signals


def _http_get(url: str, timeout: float) -> str:
    import httpx

    response = httpx.get(url, timeout=timeout)
    response.raise_for_status()
    return response.text
