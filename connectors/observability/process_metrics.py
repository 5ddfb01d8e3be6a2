"""Every metric family a Wire Report process exports, declared once, in a registry of its own.

A process asks for its metrics by name and records through small methods, e.g.::

    metrics = ProcessMetrics.for_process("publisher")
    metrics.tweet("nfl-main", "posted")
    metrics.dead_letter("tweet-commands", exc)

Each process gets its own ``CollectorRegistry`` (not prometheus-client's global one), so tests can build as many
as they like and nothing is registered at import time. Label values that come from data (reasons) are reduced
to a short class: free text would make one time series per message.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from typing import ClassVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# Record batches and decisions are fast (ms); a stuck one is minutes: buckets span both.
BATCH_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)

TWEET_OUTCOMES = ("decided", "posted", "failed", "held", "over_limit")
BREAKER_STATES = {"closed": 0, "half_open": 1, "open": 2}

_REASON_MAX = 40


def reason_class(reason: str | BaseException) -> str:
    """A short, bounded label for why something failed: an exception's class name, or a text's leading words.

    ``"invalid system metrics: cpu_percent 120 ..."`` -> ``"invalid_system_metrics"``; ``ValueError(...)`` ->
    ``"ValueError"``; an empty text -> ``"unknown"``.
    """
    if isinstance(reason, BaseException):
        return type(reason).__name__
    head = re.split(r"[:(\[{\n]", reason, maxsplit=1)[0]
    slug = re.sub(r"[^A-Za-z0-9]+", "_", head).strip("_").lower()
    return slug[:_REASON_MAX].rstrip("_") or "unknown"


class ProcessMetrics:
    """The metric families of one process (``process`` label filled in) and the helpers that record them."""

    _by_process: ClassVar[dict[str, ProcessMetrics]] = {}
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, process: str, registry: CollectorRegistry | None = None):
        self.process = process
        self.registry = registry or CollectorRegistry(auto_describe=True)
        self._refreshers: list[Callable[[], None]] = []
        r = self.registry
        self.records_processed = Counter(
            "wirereport_records_processed", "Records processed.", ["process", "topic"], registry=r
        )
        self.batch_seconds = Histogram(
            "wirereport_batch_seconds",
            "Time to handle one batch of records.",
            ["process", "topic"],
            buckets=BATCH_BUCKETS,
            registry=r,
        )
        self.decision_latency = Histogram(
            "wirereport_decision_latency_seconds",
            "From a record's timestamp (when it was produced) to the decision made on it.",
            ["process", "topic"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.consumer_lag = Gauge(
            "wirereport_consumer_lag",
            "Messages not yet consumed (high watermark - position).",
            ["topic", "partition"],
            registry=r,
        )
        self.dead_letters = Counter(
            "wirereport_dead_letters",
            "Records sent to dead-letters, by source topic and reason class.",
            ["topic", "reason"],
            registry=r,
        )
        self.tweets = Counter(
            "wirereport_tweets",
            "Tweets by account and outcome (decided, posted, failed, held, over_limit); the worker counts what it"
            " decides, the publisher what it accepts and what became of it.",
            ["process", "account", "outcome"],
            registry=r,
        )
        self.tweet_budget_remaining = Gauge(
            "wirereport_tweet_budget_remaining", "Tweets an account may still post today.", ["account"], registry=r
        )
        self.tweet_limit_remaining = Gauge(
            "wirereport_tweet_limit_remaining",
            "Posts X still allows an account in its rolling 24-hour window (the publisher's count).",
            ["account"],
            registry=r,
        )
        self.scaling_decisions = Counter(
            "wirereport_scaling_decisions",
            "Scaling decisions by league and direction: the worker's decided, the scaler's applied.",
            ["process", "league", "direction"],
            registry=r,
        )
        self.scaling_failures = Counter(
            "wirereport_scaling_failures",
            "Scaling commands that failed, by league and reason class.",
            ["league", "reason"],
            registry=r,
        )
        self.alerts_firing = Gauge(
            "wirereport_alerts_firing", "Alerts firing now.", ["alertname", "severity"], registry=r
        )
        self.breaker_state = Gauge(
            "wirereport_circuit_breaker_state",
            "Circuit breaker state: 0 closed, 1 half-open, 2 open.",
            ["breaker"],
            registry=r,
        )
        # the worker's view of each league's load and agents (from its load-forecasts and scaling-state outputs)
        self.load_actual = Gauge(
            "wirereport_load_actual", "Workload measured now, per league (work units/s).", ["league"], registry=r
        )
        self.load_forecast = Gauge(
            "wirereport_load_forecast",
            "Workload forecast at the forecaster's horizon, per league (bound: expected or upper).",
            ["league", "bound"],
            registry=r,
        )
        self.scaling_agents = Gauge(
            "wirereport_scaling_agents",
            "Agents per league: desired (the scaling state's) and active (counted on the servers).",
            ["league", "kind"],
            registry=r,
        )
        # the worker's view of each league server (from its server-health outputs)
        self.server_resource = Gauge(
            "wirereport_server_resource_percent",
            "A league server's last cpu, memory and disk use (percent).",
            ["server_id", "league", "resource"],
            registry=r,
        )
        self.server_status = Gauge(
            "wirereport_server_status",
            "A league server's health status: 0 ok, 1 warning, 2 critical, 3 down.",
            ["server_id", "league"],
            registry=r,
        )
        self.ready = Gauge("wirereport_ready", "1 when the process reports ready, else 0.", ["process"], registry=r)
        self.build_info = Gauge(
            "wirereport_build_info", "Always 1; the labels say what runs.", ["process", "version"], registry=r
        )
        # the metrics agent of a league server
        self.agent_samples = Counter(
            "wirereport_agent_samples",
            "Metrics agent samples by outcome (taken, skipped, sent).",
            ["outcome"],
            registry=r,
        )
        self.agent_buffered = Gauge(
            "wirereport_agent_buffered_samples", "Samples waiting on disk for the broker.", registry=r
        )
        self.app_metrics_up = Gauge(
            "wirereport_agent_app_metrics_up",
            "1 when the league server's metrics endpoint answered last time.",
            registry=r,
        )
        self.build_info.labels(process, _version()).set(1)
        self.ready.labels(process).set(0)

    @classmethod
    def for_process(cls, process: str) -> ProcessMetrics:
        """This process's metrics under ``process`` (created on first use, the same object after)."""
        with cls._lock:
            metrics = cls._by_process.get(process)
            if metrics is None:
                metrics = cls._by_process[process] = cls(process)
            return metrics

    # -- recording ---------------------------------------------------------------------------------
    def processed(self, topic: str, count: int = 1) -> None:
        self.records_processed.labels(self.process, topic).inc(count)

    def batch_time(self, topic: str, seconds: float) -> None:
        self.batch_seconds.labels(self.process, topic).observe(seconds)

    def decided(self, topic: str, record_timestamp: float, now: float | None = None) -> None:
        """Observe produce -> decision latency from a record's timestamp (epoch seconds); clock skew counts as 0."""
        latency = (time.time() if now is None else now) - record_timestamp
        self.decision_latency.labels(self.process, topic).observe(max(latency, 0.0))

    def lag(self, topic: str, partition: int, messages: int) -> None:
        self.consumer_lag.labels(topic, str(partition)).set(max(messages, 0))

    def dead_letter(self, topic: str, reason: str | BaseException) -> None:
        self.dead_letters.labels(topic, reason_class(reason)).inc()

    def tweet(self, account: str, outcome: str) -> None:
        if outcome not in TWEET_OUTCOMES:
            raise ValueError(f"tweet outcome {outcome!r} is not one of {', '.join(TWEET_OUTCOMES)}")
        self.tweets.labels(self.process, account, outcome).inc()

    def budget_left(self, account: str, tweets: int) -> None:
        self.tweet_budget_remaining.labels(account).set(tweets)

    def scaling_decision(self, league: str, direction: str) -> None:
        self.scaling_decisions.labels(self.process, league, direction).inc()

    def scaling_failure(self, league: str, reason: str | BaseException) -> None:
        self.scaling_failures.labels(league, reason_class(reason)).inc()

    def alerts(self, alertname: str, severity: str, firing: int) -> None:
        self.alerts_firing.labels(alertname, severity).set(firing)

    def breaker(self, name: str, state: str) -> None:
        """``state``: closed, half_open (or half-open) or open, in any case (a breaker's ``state.name`` works)."""
        key = state.lower().replace("-", "_")
        if key not in BREAKER_STATES:
            raise ValueError(f"breaker state {state!r} is not one of {', '.join(BREAKER_STATES)}")
        self.breaker_state.labels(name).set(BREAKER_STATES[key])

    def set_ready(self, ready: bool) -> None:
        self.ready.labels(self.process).set(1 if ready else 0)

    # -- values computed when scraped --------------------------------------------------------------
    def on_scrape(self, refresh: Callable[[], None]) -> None:
        """Run ``refresh`` before each scrape (e.g. to read consumer lag), instead of on every record."""
        self._refreshers.append(refresh)

    def refresh(self) -> None:
        for refresh in list(self._refreshers):
            refresh()


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("wirereport")
    except PackageNotFoundError:
        return "unknown"
