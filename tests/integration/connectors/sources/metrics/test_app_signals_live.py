"""``wirereport agent --app-metrics-url`` against a real local HTTP server whose metrics change between scrapes:
the samples on system-metrics carry the server's error rate, latency and version; an outage sends nulls."""

from __future__ import annotations

import threading
import uuid
from http.server import BaseHTTPRequestHandler

from connectors.kafka.edge import consume_records
from connectors.sources.metrics.app_signals import AppSignalReader, AppSignals
from connectors.testing import WirereportProcess, serving, wait_until


class LeagueServerMetrics(BaseHTTPRequestHandler):
    """Each scrape: 100 more requests, 5 of them 5xx, 20 ms each; version v7."""

    scrapes = 0
    lock = threading.Lock()

    def do_GET(self):
        with self.lock:
            type(self).scrapes += 1
            n = type(self).scrapes
        body = (
            "# TYPE http_requests_total counter\n"
            f'http_requests_total{{status="200"}} {95 * n}\n'
            f'http_requests_total{{status="502"}} {5 * n}\n'
            "# TYPE http_request_duration_seconds histogram\n"
            f'http_request_duration_seconds_bucket{{le="+Inf"}} {100 * n}\n'
            f"http_request_duration_seconds_sum {2.0 * n}\n"
            f"http_request_duration_seconds_count {100 * n}\n"
            "# TYPE league_build_info gauge\n"
            'league_build_info{version="v7"} 1\n'
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        pass


def test_the_reader_over_http_follows_a_changing_server():
    LeagueServerMetrics.scrapes = 0
    with serving(LeagueServerMetrics) as base:
        reader = AppSignalReader(f"{base}/metrics")
        assert reader() == AppSignals(version="v7")
        signals = reader()
    assert signals.error_rate == 0.05 and round(signals.latency_ms, 6) == 20.0 and signals.version == "v7"
    assert reader() == AppSignals()  # the server is gone
    assert reader.outage is not None


def test_the_agent_sends_the_league_servers_signals(broker, tmp_path):
    LeagueServerMetrics.scrapes = 0
    server_id = f"nba-canary-{uuid.uuid4().hex[:8]}"
    counter = tmp_path / "workload.counter"
    counter.write_text("0")
    with serving(LeagueServerMetrics) as base:
        args = ["agent", "--server-id", server_id, "--league", "NBA", "--workload-file", str(counter)]
        args += ["--interval", "0.2", "--count", "4", "--app-metrics-url", f"{base}/metrics"]
        with WirereportProcess(args, bootstrap=broker) as agent:
            agent.wait_for_output("agent stopped", timeout=60)

    def samples():
        found = [r for _, r in consume_records(broker, "system-metrics", timeout=1.0) if r["server_id"] == server_id]
        return found if len(found) >= 4 else None

    found = wait_until(samples, 30)
    assert all(s["version"] == "v7" for s in found)
    later = [s for s in found if s["error_rate"] is not None]
    assert later and all(s["error_rate"] == 0.05 and round(s["latency_ms"], 6) == 20.0 for s in later)
