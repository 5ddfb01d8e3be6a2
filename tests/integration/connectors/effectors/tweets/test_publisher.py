"""The tweet publisher on the real embedded broker, and against a real local HTTP server standing in for X."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler

import pytest

from connectors.effectors.tweets.outbox import Outbox
from connectors.effectors.tweets.publisher import DryRunSender, RetryPolicy, TweetPublisher, XSender, deliver_due
from connectors.effectors.tweets.x_client import XClient
from connectors.kafka.edge import EdgeProducer
from connectors.testing import serving, tweet_command, wait_until


def _produce(bootstrap: str, commands: list[dict]) -> None:
    with EdgeProducer(bootstrap) as producer:
        for c in commands:
            producer.send("tweet-commands", c)


def _drain(publisher: TweetPublisher, account: str, expected_stored: int, outbox: Outbox) -> None:
    """Poll until the outbox holds ``expected_stored`` commands of ``account``, then deliver."""

    def stored() -> bool:
        publisher.poll_once(timeout=0.2)
        rows = outbox._db.execute("SELECT COUNT(*) FROM commands WHERE account = ?", (account,)).fetchone()
        return rows[0] >= expected_stored

    wait_until(stored, timeout=30)
    while publisher.poll_once(timeout=0.5):
        pass
    publisher.deliver_once()


def _posted(log_path, account: str) -> list[dict]:
    if not log_path.exists():
        return []
    lines = [json.loads(line) for line in log_path.read_text().splitlines()]
    return [line for line in lines if line["account"] == account]


def test_duplicates_post_once_restart_reposts_nothing_and_the_rolling_limit_holds(broker, tmp_path):
    account = f"TEST-{uuid.uuid4().hex[:8]}"
    kickoff = datetime(2018, 9, 10, 0, 20, tzinfo=UTC)  # Sunday night, 8:20 PM in New York
    unique = [tweet_command(account, str(1000 + i), kickoff + timedelta(minutes=i)) for i in range(5)]
    next_day = tweet_command(account, "9999", kickoff + timedelta(days=1))
    # every command twice, and the first one a third time
    _produce(broker, unique + unique + [unique[0], next_day])

    db, log = tmp_path / "outbox.sqlite3", tmp_path / "tweets-dryrun.jsonl"
    outbox = Outbox(db)
    publisher = TweetPublisher(broker, outbox, DryRunSender(log), limit=3)
    _drain(publisher, account, 6, outbox)
    publisher.close()

    posted = _posted(log, account)
    ids = [p["command_id"] for p in posted]
    # 3 (the limit) in the rolling 24 hours of posting, whatever day the plays were on
    assert len(ids) == len(set(ids)) == 3
    assert set(ids) == {c["command_id"] for c in unique[:3]}
    assert all(p["text"].startswith("Lead change!") for p in posted)

    # restart on the same outbox: the stored positions resume the topic, nothing is posted again,
    # and commands redelivered later (a replay) are recognised as duplicates
    _produce(broker, unique[:2])
    outbox = Outbox(db)
    publisher = TweetPublisher(broker, outbox, DryRunSender(log), limit=3)
    wait_until(lambda: publisher.poll_once(timeout=0.5) == 0 and publisher.stats["consumed"] >= 2, timeout=30)
    publisher.deliver_once()
    assert publisher.stats["duplicate"] >= 2 and publisher.stats["queued"] == 0
    publisher.close()
    assert len(_posted(log, account)) == 3
    counts = Outbox(db).status_counts()
    assert counts.get("over_limit") == 3


class FakeX(BaseHTTPRequestHandler):
    """A real HTTP server playing the X API: answers from a script of status codes."""

    script: list[tuple[int, dict]] = []
    requests: list[dict] = []

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        FakeX.requests.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
        status, headers = FakeX.script.pop(0) if FakeX.script else (201, {})
        payload = json.dumps({"data": {"id": str(len(FakeX.requests)), "text": body["text"]}}).encode()
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def fake_x():
    FakeX.script, FakeX.requests = [], []
    with serving(FakeX) as url:
        yield url


def _queue(outbox: Outbox, account: str, n: int) -> list[dict]:
    at = datetime(2018, 9, 9, 20, 0, tzinfo=UTC)
    commands = [{**tweet_command(account, str(i), at), "occurred_at": "2018-09-09T20:00:00Z"} for i in range(n)]
    outbox.accept([(c, "2018-09-09") for c in commands], limit=17, now=0.0)
    return commands


def test_retries_back_off_exponentially_until_the_x_api_accepts(fake_x, tmp_path):
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    [command] = _queue(outbox, "NFL", 1)
    FakeX.script = [(503, {}), (500, {}), (429, {"retry-after": "30"})]
    sender = XSender(XClient("user-token", base_url=fake_x))
    policy = RetryPolicy(base_seconds=2.0, max_seconds=60.0, max_attempts=8)
    now = [1000.0]
    delays = []
    for _ in range(4):
        due_before = outbox.next_due_at()
        now[0] = max(now[0], due_before)
        deliver_due(outbox, sender, policy, clock=lambda: now[0])
        row = outbox.get(command["command_id"])
        if row["status"] == "queued":
            delays.append(row["next_attempt_at"] - now[0])
    row = outbox.get(command["command_id"])
    assert row["status"] == "posted" and row["attempts"] == 4 and row["tweet_id"] == "4"
    assert delays == [2.0, 4.0, 30.0]  # 2 s, doubled, then the server's retry-after
    assert [r["auth"] for r in FakeX.requests] == ["Bearer user-token"] * 4
    assert FakeX.requests[0]["path"] == "/2/tweets" and FakeX.requests[0]["body"] == {"text": command["text"]}
    # nothing due any more: no request is made
    deliver_due(outbox, sender, policy, clock=lambda: now[0] + 10_000)
    assert len(FakeX.requests) == 4


def test_refused_credentials_hold_and_exhausted_retries_mark_the_tweet_failed(fake_x, tmp_path):
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    sender = XSender(XClient("user-token", base_url=fake_x))
    policy = RetryPolicy(base_seconds=1.0, max_seconds=60.0, max_attempts=2)
    [forbidden] = _queue(outbox, "NFL", 1)
    FakeX.script = [(403, {})]
    deliver_due(outbox, sender, policy, clock=lambda: 0.0)
    row = outbox.get(forbidden["command_id"])
    assert row["status"] == "held" and row["last_error"].startswith("held: credentials refused")
    assert row["attempts"] == 1  # a 403 is not retried: the command waits for the account's credentials

    [flaky] = _queue(outbox, "WNBA", 1)
    FakeX.script = [(503, {}), (503, {})]
    deliver_due(outbox, sender, policy, clock=lambda: 0.0)
    assert outbox.get(flaky["command_id"])["status"] == "queued"
    deliver_due(outbox, sender, policy, clock=lambda: 100.0)
    row = outbox.get(flaky["command_id"])
    assert row["status"] == "failed" and row["attempts"] == 2 and "503" in row["last_error"]
    assert len(FakeX.requests) == 3
