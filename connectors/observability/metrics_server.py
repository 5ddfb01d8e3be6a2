"""``/metrics``, ``/health`` and ``/ready`` of one process, served from a daemon thread.

prometheus-client's ``start_http_server`` serves only ``/metrics``; this wraps its WSGI app with the two probes
Kubernetes and compose need. ``/health`` says the process is alive (200 while this thread answers);
``/ready`` says it can do its work now: the process sets that through a :class:`Readiness`.

Port 0 means off: ``serve_metrics`` then returns ``None`` and nothing listens (the default, so two processes on
one machine never fight over a port unless asked to).
"""

from __future__ import annotations

import json
import logging
import threading
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client.exposition import make_wsgi_app

from connectors.observability.process_metrics import ProcessMetrics

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"


class Readiness:
    """Whether the process is ready, and why not (thread-safe; starts not ready: ``"starting"``)."""

    def __init__(self, metrics: ProcessMetrics | None = None, reason: str = "starting"):
        self._lock = threading.Lock()
        self._ready = False
        self._reason = reason
        self._metrics = metrics

    def set_ready(self) -> None:
        self._set(True, "")

    def set_not_ready(self, reason: str) -> None:
        if not reason:
            raise ValueError("a process that is not ready must say why")
        self._set(False, reason)

    def _set(self, ready: bool, reason: str) -> None:
        with self._lock:
            changed = ready != self._ready or reason != self._reason
            self._ready, self._reason = ready, reason
        if changed and ready:
            log.info("ready")
        elif changed:
            log.info("not ready: %s", reason)
        if self._metrics is not None:
            self._metrics.set_ready(ready)

    @property
    def ready(self) -> bool:
        with self._lock:
            return self._ready

    @property
    def reason(self) -> str:
        with self._lock:
            return self._reason


class _QuietHandler(WSGIRequestHandler):
    """No access log: Prometheus and the probes call every few seconds."""

    def log_message(self, format, *args) -> None:
        pass


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


def _json(start_response, status: str, body: dict) -> list[bytes]:
    data = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


def make_app(metrics: ProcessMetrics, readiness: Readiness):
    """The WSGI app: ``/metrics`` (Prometheus text), ``/health``, ``/ready``; anything else is 404."""
    prometheus_app = make_wsgi_app(metrics.registry)

    def app(environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path == "/metrics":
            try:
                metrics.refresh()
            except Exception:  # a broken refresher must not take the other metrics down with it
                log.warning("refreshing metrics before a scrape failed", exc_info=True)
            return prometheus_app(environ, start_response)
        if path == "/health":
            return _json(start_response, "200 OK", {"status": "ok"})
        if path == "/ready":
            ready, reason = readiness.ready, readiness.reason
            if ready:
                return _json(start_response, "200 OK", {"ready": True})
            return _json(start_response, "503 Service Unavailable", {"ready": False, "reason": reason})
        return _json(start_response, "404 Not Found", {"error": f"no such path {path!r}: /metrics, /health, /ready"})

    return app


class MetricsServer:
    """The HTTP server in a daemon thread; ``port`` is the bound port (useful when asked for any free one)."""

    def __init__(self, metrics: ProcessMetrics, readiness: Readiness, port: int, host: str = DEFAULT_HOST):
        self.metrics = metrics
        self.readiness = readiness
        self._server = make_server(
            host, port, make_app(metrics, readiness), server_class=_ThreadingWSGIServer, handler_class=_QuietHandler
        )
        self.host = host
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="metrics-server", daemon=True)

    def start(self) -> MetricsServer:
        self._thread.start()
        log.info("metrics on http://%s:%d/metrics (and /health, /ready)", self.host, self.port)
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> MetricsServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def serve_metrics(
    process: str, port: int, host: str = DEFAULT_HOST, metrics: ProcessMetrics | None = None
) -> tuple[ProcessMetrics, Readiness, MetricsServer | None]:
    """This process's metrics and readiness, and their server when ``port`` is not 0 (started).

    A process records into the metrics and sets the readiness either way; only the serving is optional.
    """
    if not 0 <= port <= 65535:
        raise ValueError(f"metrics port {port} is not 0 (off) or a TCP port")
    metrics = metrics or ProcessMetrics.for_process(process)
    readiness = Readiness(metrics)
    if port == 0:
        return metrics, readiness, None
    try:
        server = MetricsServer(metrics, readiness, port, host)
    except OSError as exc:
        raise OSError(exc.errno, f"cannot serve metrics on {host}:{port}: {exc.strerror}") from exc
    return metrics, readiness, server.start()
