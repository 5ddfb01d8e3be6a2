"""The alert router against a real broker and a real local HTTP webhook (no mocks)."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from connectors.circuit_breaker import BreakerConfig
from connectors.effectors.alerts import AlertRouter
from connectors.kafka.admin import create_topics
from connectors.kafka.broker import EmbeddedBroker, free_port
from connectors.kafka.edge import EdgeProducer, consume_records
from connectors.testing import WirereportProcess, wait_until
from streams.health.alert_grouping import GroupingConfig
from streams.health.rules import fingerprint


class Webhook:
    """A Slack-compatible webhook on 127.0.0.1 that records what it accepts; it can fail or go away."""

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.received: list[dict] = []
        self.attempts = 0
        self.fail = False
        self.server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/T000/B000"

    def start(self) -> Webhook:
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                hook.attempts += 1
                if hook.fail:
                    self.send_response(503)
                    self.end_headers()
                    self.wfile.write(b"service_unavailable")
                    return
                hook.received.append({**body, "header_id": self.headers["X-Wirereport-Notification-Id"]})
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def texts(self) -> list[str]:
        return [r["text"] for r in self.received]


@pytest.fixture
def webhook():
    hook = Webhook().start()
    yield hook
    hook.stop()


@pytest.fixture
def bootstrap():
    """A broker of the test's own (the router reads ``alerts`` from the beginning); in-memory, so killed after."""
    with EmbeddedBroker(free_port()) as broker:
        create_topics(broker.bootstrap)
        yield broker.bootstrap
        broker.process.kill()
        broker.process.wait()


def alert(server, name="HighCpu", severity="warning", status="firing", metric="cpu", at=None, league="NBA"):
    labels = {"metric": metric} if metric else {}
    return {
        "fingerprint": fingerprint(name, server, severity, **labels),
        "alertname": name,
        "server_id": server,
        "league": league,
        "severity": severity,
        "status": status,
        "value": 91.0,
        "threshold": 90.0,
        "summary": f"{name} {severity} on {server}",
        "suggestion": "do something",
        "at": at or datetime.now(UTC),
        "starts_at": None,
        "labels": labels,
    }


def produce(bootstrap: str, topic: str, *records: dict) -> None:
    with EdgeProducer(bootstrap) as producer:
        for r in records:
            producer.send(topic, r)


class RouterThread:
    def __init__(self, router: AlertRouter):
        self.router = router
        self.lines: list[str] = []
        router.echo = self.lines.append
        self.ready = threading.Event()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=router.run, args=(self.stop, self.ready.set), daemon=True)

    def __enter__(self):
        self.thread.start()
        assert self.ready.wait(30), "router not ready"
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(15)


def make_router(bootstrap, webhook, tmp_path: Path, breaker: BreakerConfig | None = None, **grouping) -> AlertRouter:
    cfg = GroupingConfig(**{"group_wait": 0.5, "group_interval": 1.0, "repeat_interval": 3600, **grouping})
    return AlertRouter(
        bootstrap, webhook.url, tmp_path / "outbox.sqlite3", cfg, breaker, retry_initial=0.2, retry_max=1.0
    )


def test_grouping_and_inhibition(bootstrap, webhook, tmp_path):
    with RouterThread(make_router(bootstrap, webhook, tmp_path)):
        produce(
            bootstrap,
            "alerts",
            alert("s1"),
            alert("s2"),
            alert("s1", severity="critical"),  # inhibits the warning of s1 (same metric)
            alert("s3", "HighMemory", metric="memory"),
            alert("s3", "ServerDown", severity="critical", metric=None),  # inhibits everything else on s3
        )
        wait_until(lambda: len(webhook.received) >= 2, 20)
        time.sleep(2.5)  # two more group intervals: nothing else may be sent
    texts = sorted(webhook.texts())
    assert len(texts) == 2, texts
    cpu = next(t for t in texts if "HighCpu" in t.splitlines()[0])
    down = next(t for t in texts if "ServerDown" in t.splitlines()[0])
    assert cpu.startswith("[FIRING:2] NBA HighCpu") and "critical* HighCpu s1" in cpu and "warning* HighCpu s2" in cpu
    assert "warning* HighCpu s1" not in cpu
    assert down.startswith("[FIRING:1] NBA ServerDown") and "HighMemory" not in "".join(texts)


def test_silence_mutes_until_expiry(bootstrap, webhook, tmp_path):
    now = datetime.now(UTC)
    produce(
        bootstrap,
        "silences",
        {
            "silence_id": "maint-s1",
            "matchers": {"server_id": "s1"},
            "starts_at": now,
            "ends_at": now + timedelta(seconds=4),
        },
    )
    with RouterThread(make_router(bootstrap, webhook, tmp_path)) as rt:
        assert "maint-s1" in rt.router.grouper.state["silences"]  # loaded before ready
        produce(bootstrap, "alerts", alert("s1"), alert("s2"))
        wait_until(lambda: len(webhook.received) >= 1, 20)
        assert "s2" in webhook.texts()[0] and "s1" not in webhook.texts()[0]
        wait_until(lambda: len(webhook.received) >= 2, 20)  # the silence expired: s1 shows up
    assert "HighCpu s1" in webhook.texts()[1] and "HighCpu s2" in webhook.texts()[1]


def test_retry_after_the_webhook_comes_back_and_breaker_state_is_published(bootstrap, webhook, tmp_path):
    webhook.stop()  # connection refused
    breaker = BreakerConfig(
        sliding_window_size=2,
        minimum_number_of_calls=2,
        wait_duration_in_open_state=1.0,
        permitted_calls_in_half_open_state=1,
    )
    with RouterThread(make_router(bootstrap, webhook, tmp_path, breaker)) as rt:
        produce(bootstrap, "alerts", alert("s7"))
        wait_until(lambda: sum("failed" in line for line in rt.lines) >= 2, 20)
        webhook.start()
        webhook.fail = True  # up, but answering 503
        wait_until(lambda: webhook.attempts >= 1, 20)
        webhook.fail = False
        wait_until(lambda: any("HighCpu s7" in t for t in webhook.texts()), 20)
        # the breaker's own CircuitBreakerOpen alert went through the router as well: the outbox drains
        wait_until(lambda: rt.router.outbox.counts()["unsent"] == 0, 20)
    assert sum("HighCpu s7" in t for t in webhook.texts()) == 1
    states = [
        r["state"] for _, r in consume_records(bootstrap, "breaker-state", timeout=1) if r["breaker"] == "slack-webhook"
    ]
    assert states[:3] == ["OPEN", "HALF_OPEN", "OPEN"] or states[:2] == ["OPEN", "HALF_OPEN"]
    assert states[-1] == "CLOSED"
    breaker_alerts = [
        r["status"]
        for _, r in consume_records(bootstrap, "alerts", timeout=1)
        if r["alertname"] == "CircuitBreakerOpen"
    ]
    assert breaker_alerts[0] == "firing" and breaker_alerts[-1] == "resolved"


def test_no_duplicate_notifications_after_restarts(bootstrap, webhook, tmp_path):
    env = {
        "WIREREPORT_SLACK_WEBHOOK_URL": webhook.url,
        "WIREREPORT_DATA_DIR": str(tmp_path),
        "WIREREPORT_ALERT_RETRY_INITIAL_SECONDS": "0.2",
        "WIREREPORT_ALERT_RETRY_MAX_SECONDS": "0.5",
    }
    args = ["alert-router", "--group-wait", "0.5", "--group-interval", "1"]
    first = alert("s1")
    produce(bootstrap, "alerts", first, alert("s2"))
    with WirereportProcess(args, bootstrap=bootstrap, env=env) as proc:
        proc.wait_for_output("delivered notification")
        proc.kill()  # a crash
    assert len(webhook.received) == 1
    # the webhook is down while the router is down; a resolution comes in
    webhook.fail = True
    produce(bootstrap, "alerts", {**first, "status": "resolved", "at": datetime.now(UTC)})
    with WirereportProcess(args, bootstrap=bootstrap, env=env) as proc:
        proc.wait_for_output("failed (attempt 1)")
        proc.kill()  # crash with a notification still in the outbox
    webhook.fail = False
    with WirereportProcess(args, bootstrap=bootstrap, env=env) as proc:
        proc.wait_for_output("delivered notification")
        time.sleep(2.5)  # a few group intervals: nothing more to send
        assert proc.stop() == 0
    ids = [r["header_id"] for r in webhook.received]
    assert len(ids) == 2 and len(set(ids)) == 2, webhook.texts()
    assert webhook.texts()[0].startswith("[FIRING:2]")
    assert webhook.texts()[1].startswith("[FIRING:1]") and "Resolved (1)" in webhook.texts()[1]
