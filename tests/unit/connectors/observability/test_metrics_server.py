"""The metrics server: /metrics, /health, /ready from a real local HTTP server; port 0 is off."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from connectors.observability.cli_options import metrics_port
from connectors.observability.metrics_server import MetricsServer, Readiness, serve_metrics
from connectors.observability.process_metrics import ProcessMetrics


def get(url: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.headers.get("Content-Type", ""), response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Content-Type", ""), exc.read().decode()


@pytest.fixture
def server():
    metrics = ProcessMetrics("unit-server")
    readiness = Readiness(metrics)
    with MetricsServer(metrics, readiness, port=0) as running:
        yield running


def test_health_is_ok_while_alive(server):
    status, content_type, body = get(f"http://127.0.0.1:{server.port}/health")
    assert (status, content_type, json.loads(body)) == (200, "application/json", {"status": "ok"})


def test_ready_follows_the_readiness_and_says_why_not(server):
    url = f"http://127.0.0.1:{server.port}/ready"
    assert get(url)[0] == 503 and json.loads(get(url)[2]) == {"ready": False, "reason": "starting"}
    server.readiness.set_ready()
    assert get(url)[0] == 200 and json.loads(get(url)[2]) == {"ready": True}
    server.readiness.set_not_ready("rebalancing")
    assert (get(url)[0], json.loads(get(url)[2])) == (503, {"ready": False, "reason": "rebalancing"})


def test_metrics_are_prometheus_text_refreshed_per_scrape(server):
    calls = []
    server.metrics.on_scrape(lambda: calls.append(1) or server.metrics.lag("plays", 0, len(calls)))
    server.readiness.set_ready()
    status, content_type, text = get(f"http://127.0.0.1:{server.port}/metrics")
    assert status == 200 and content_type.startswith("text/plain")
    assert 'wirereport_ready{process="unit-server"} 1.0' in text
    assert 'wirereport_consumer_lag{partition="0",topic="plays"} 1.0' in text
    assert (
        'wirereport_consumer_lag{partition="0",topic="plays"} 2.0' in get(f"http://127.0.0.1:{server.port}/metrics")[2]
    )


def test_a_failing_refresher_does_not_take_the_metrics_down(server):
    server.metrics.on_scrape(lambda: 1 / 0)
    status, _, text = get(f"http://127.0.0.1:{server.port}/metrics")
    assert status == 200 and "wirereport_ready" in text


def test_unknown_path_is_404(server):
    assert get(f"http://127.0.0.1:{server.port}/metricz")[0] == 404


def test_port_zero_serves_nothing_but_still_records():
    metrics, readiness, server = serve_metrics("unit-off", 0, metrics=ProcessMetrics("unit-off"))
    assert server is None
    readiness.set_ready()
    assert readiness.ready and metrics.ready.labels("unit-off")._value.get() == 1


def test_bad_port_and_busy_port_are_clear_errors():
    with pytest.raises(ValueError, match=r"not 0 \(off\) or a TCP port"):
        serve_metrics("unit-bad", 70000, metrics=ProcessMetrics("unit-bad"))
    metrics = ProcessMetrics("unit-busy")
    with MetricsServer(metrics, Readiness(), port=0) as first, pytest.raises(OSError, match="cannot serve metrics"):
        serve_metrics("unit-busy", first.port, metrics=metrics)


def test_not_ready_needs_a_reason():
    with pytest.raises(ValueError, match="must say why"):
        Readiness().set_not_ready("")


def test_the_option_wins_over_the_setting():
    class Args:
        metrics_port = None

    class Settings:
        metrics_port = 9100

    assert metrics_port(Args(), Settings()) == 9100
    Args.metrics_port = 0
    assert metrics_port(Args(), Settings()) == 0
