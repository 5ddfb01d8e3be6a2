"""Prometheus metrics of the API and the ASGI middleware that records them (plus security headers)."""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.process_collector import ProcessCollector

_SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]


class ApiMetrics:
    """One registry per app (tests create many apps in one process)."""

    def __init__(self, read_model=None):
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        self.requests = Counter(
            "wirereport_api_requests", "HTTP requests", ["method", "route", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "wirereport_api_request_seconds",
            "HTTP request latency",
            ["route"],
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            registry=self.registry,
        )
        self.auth_failures = Counter("wirereport_api_auth_failures", "Rejected credentials", registry=self.registry)
        self.rate_limited = Counter("wirereport_api_rate_limited", "Requests answered 429", registry=self.registry)
        self.commands = Counter("wirereport_api_commands", "Commands produced", ["topic"], registry=self.registry)
        self.lag = Gauge("wirereport_read_model_lag", "Read-model lag (messages)", ["topic"], registry=self.registry)
        self.records = Gauge("wirereport_read_model_records", "Records per view", ["view"], registry=self.registry)
        self.ready = Gauge("wirereport_read_model_ready", "1 when /ready answers 200", registry=self.registry)
        self.sse_clients = Gauge("wirereport_api_sse_clients", "Open SSE streams", registry=self.registry)
        self.read_model = read_model

    def render(self) -> bytes:
        rm = self.read_model
        if rm is not None:
            for name, st in rm.status.topics.items():
                self.lag.labels(name).set(st.lag or 0)
            for name, view in {**rm.keyed, **rm.logs}.items():
                self.records.labels(name).set(len(view))
            self.ready.set(1 if rm.readiness()[0] else 0)
        return generate_latest(self.registry)


class MetricsMiddleware:
    """Pure ASGI middleware (does not buffer SSE): counts and times requests per route template and adds
    security headers."""

    def __init__(self, app, metrics: ApiMetrics):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: dict[str, Any], receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = {"code": 500}

        async def wrapped_send(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                message["headers"] = [*message.get("headers", ()), *_SECURITY_HEADERS]
            await send(message)

        try:
            await self.app(scope, receive, wrapped_send)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", None) or "unmatched"
            self.metrics.requests.labels(scope["method"], path, str(status["code"])).inc()
            self.metrics.latency.labels(path).observe(time.perf_counter() - start)
