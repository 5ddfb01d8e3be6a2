"""The ``x-api`` circuit breaker around the publisher's X API calls, against a real local HTTP server that fails
(503) and then recovers; its state changes go to ``breaker-state`` and ``alerts`` on the real broker."""

from __future__ import annotations

import json
import threading
import uuid
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from pydantic import SecretStr

from connectors.effectors.tweets.outbox import Outbox
from connectors.effectors.tweets.publisher import RetryPolicy, TweetPublisher, XSender, build_publisher, x_api_breaker
from connectors.effectors.tweets.x_client import XClient
from connectors.kafka.edge import EdgeProducer, consume_records
from connectors.testing import serving
from streams.settings import Settings


class FlakyX(BaseHTTPRequestHandler):
    """Answers 503 while ``failing`` is set, else 201 with a tweet id."""

    failing = True
    requests = 0
    lock = threading.Lock()

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with FlakyX.lock:
            FlakyX.requests += 1
            n = FlakyX.requests
        status = 503 if FlakyX.failing else 201
        payload = json.dumps({"data": {"id": f"x{n}", "text": body["text"]}} if status == 201 else {"title": "down"})
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload.encode())

    def log_message(self, *args):
        pass


@pytest.fixture
def flaky_x():
    FlakyX.failing, FlakyX.requests = True, 0
    with serving(FlakyX) as url:
        yield url


def _ms(t: datetime) -> int:
    return int(t.timestamp() * 1000)


def _settings(tmp_path, base_url: str) -> Settings:
    return Settings(
        _env_file=None,
        data_dir=str(tmp_path),
        x_bearer_token=SecretStr("user-token"),
        x_api_base_url=base_url,
        x_breaker_sliding_window_size=4,
        x_breaker_minimum_number_of_calls=4,
        x_breaker_wait_seconds=30.0,
        breaker_permitted_calls_in_half_open_state=2,
    )


def _queue(outbox: Outbox, account: str, n: int) -> list[str]:
    commands = [
        {
            "command_id": f"{account}-{i}",
            "account": account,
            "league": "NBA",
            "game_id": "0020901030",
            "play_id": str(i),
            "text": f"Buzzer beater {i}!",
            "style": "clutch",
            "urgency": "high",
            "significance": 50.0,
            "win_prob_home": 0.5,
            "occurred_at": "2010-03-12T01:00:00Z",
        }
        for i in range(n)
    ]
    outbox.accept([(c, "2010-03-11") for c in commands], limit=17, now=0.0)
    return [c["command_id"] for c in commands]


def test_failing_x_api_opens_the_breaker_commands_wait_and_go_out_after_recovery(broker, flaky_x, tmp_path):
    account = f"TEST-{uuid.uuid4().hex[:8]}"
    settings = _settings(tmp_path, flaky_x)
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    ids = _queue(outbox, account, 6)
    now = [0.0]
    producer = EdgeProducer(broker)
    breaker = x_api_breaker(settings, producer)
    breaker.clock = lambda: now[0]
    publisher = TweetPublisher(
        broker,
        outbox,
        XSender(XClient("user-token", base_url=flaky_x)),
        policy=RetryPolicy(base_seconds=1.0, max_seconds=5.0, max_attempts=8),
        breaker=breaker,
        producer=producer,
        clock=lambda: now[0],
    )

    # 4 calls fail (503): the failure rate reaches 100% of the window and the breaker opens
    counts = publisher.deliver_once()
    assert {k: n for k, n in counts.items() if n} == {"retry": 4, "blocked": 2}
    assert breaker.state == "OPEN" and FlakyX.requests == 4

    # while OPEN no call is made, however many commands are due; no attempt is counted
    FlakyX.failing = False
    now[0] = 20.0
    assert publisher.deliver_once()["blocked"] == 6
    assert FlakyX.requests == 4
    assert sorted(outbox.get(i)["attempts"] for i in ids) == [0, 0, 1, 1, 1, 1]
    assert outbox.status_counts() == {"queued": 6}

    # after the wait duration: HALF_OPEN, two probes pass, CLOSED, and everything queued goes out
    now[0] = 31.0
    counts = publisher.deliver_once()
    assert counts["posted"] == 6 and counts["blocked"] == 0
    assert [t["state"] for t in breaker.transitions] == ["OPEN", "HALF_OPEN", "CLOSED"]
    assert FlakyX.requests == 10
    assert outbox.status_counts() == {"posted": 6}
    assert publisher.send_receipts() == 6
    publisher.close()

    # the state changes and the alert are on the broker
    changed = {_ms(t["changed_at"]) for t in breaker.transitions}
    states = [r for _, r in consume_records(broker, "breaker-state", timeout=1.5) if _ms(r["changed_at"]) in changed]
    assert [(r["breaker"], r["state"]) for r in states] == [
        ("x-api", "OPEN"),
        ("x-api", "HALF_OPEN"),
        ("x-api", "CLOSED"),
    ]
    alerts = [
        (a["status"], a["labels"]["breaker"])
        for _, a in consume_records(broker, "alerts", timeout=1.5)
        if a["alertname"] == "CircuitBreakerOpen" and _ms(a["at"]) in changed
    ]
    assert alerts == [("firing", "x-api"), ("resolved", "x-api")]
    receipts = [r for _, r in consume_records(broker, "tweet-receipts", timeout=1.5) if r["account"] == account]
    assert sorted(r["command_id"] for r in receipts) == sorted(ids)
    assert {r["status"] for r in receipts} == {"posted"} and all(r["tweet_id"].startswith("x") for r in receipts)


def test_permanent_refusals_do_not_open_the_breaker(tmp_path):
    """A 403 means the API is up: it fails the tweet (receipt ``duplicate`` for duplicate content), not the API."""

    class Refusing(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            payload = b'{"detail": "You are not allowed to create a Tweet with duplicate content.", "status": 403}'
            self.send_response(403)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Refusing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        settings = _settings(tmp_path, f"http://127.0.0.1:{server.server_address[1]}")
        publisher = build_publisher(settings, bootstrap="127.0.0.1:1")
        assert publisher.breaker is not None and publisher.breaker.name == "x-api"
        ids = _queue(publisher.outbox, "NBA", 5)
        counts = publisher.deliver_once()
        assert counts["duplicate_content"] == 5 and publisher.breaker.state == "CLOSED"
        receipts = [publisher.outbox.receipt(i) for i in ids]
        assert {r["status"] for r in receipts} == {"duplicate"} and all(r["attempts"] == 1 for r in receipts)
        publisher._producer = None  # nothing to flush to the unreachable broker
        publisher.close()
    finally:
        server.shutdown()
        server.server_close()
