"""Tweet receipts: a command on the real broker -> the publisher (dry run) -> a TweetReceipt on ``tweet-receipts``,
and ``/v1/tweets`` showing the publish status from it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from connectors.effectors.tweets.outbox import Outbox
from connectors.effectors.tweets.publisher import DryRunSender, TweetPublisher
from connectors.kafka.edge import EdgeProducer, consume_raw, consume_records
from connectors.testing import tweet_command, wait_until
from tests.unit.api.test_app import bearer, make_app


def _touchdown(account: str, play_id: str, at: datetime) -> dict:
    return tweet_command(
        account, play_id, at, text=f"Touchdown! (play {play_id})", style="score", significance=40.0, win_prob_home=0.7
    )


def _receipts(bootstrap: str, account: str) -> list[dict]:
    return [r for _, r in consume_records(bootstrap, "tweet-receipts", timeout=1.5) if r["account"] == account]


def test_each_outcome_has_one_receipt_on_the_topic_and_the_api_shows_it(broker, tmp_path):
    account = f"TEST-{uuid.uuid4().hex[:8]}"
    at = datetime(2018, 9, 9, 20, 0, tzinfo=UTC)
    commands = [_touchdown(account, str(i), at + timedelta(minutes=i)) for i in range(3)]
    with EdgeProducer(broker) as producer:
        for c in [*commands, commands[0]]:  # the first one redelivered
            producer.send("tweet-commands", c)

    db = tmp_path / "outbox.sqlite3"
    publisher = TweetPublisher(broker, Outbox(db), DryRunSender(tmp_path / "dry.jsonl"), limit=2)
    wait_until(lambda: publisher.poll_once(timeout=0.5) == 0 and publisher.stats["consumed"] >= 4, timeout=30)
    publisher.deliver_once()
    assert publisher.send_receipts() >= 3  # the topic also holds other tests' commands: they get receipts too
    publisher.close()

    receipts = _receipts(broker, account)
    by_id = {r["command_id"]: r for r in receipts}
    assert len(receipts) == len(by_id) == 3  # one per command, none for the redelivery
    first, second, third = (by_id[c["command_id"]] for c in commands)
    for r in (first, second):
        assert r["status"] == "dry_run" and r["attempts"] == 1
        assert r["tweet_id"] == f"dryrun-{r['command_id']}"
        assert r["at"].tzinfo is not None
    assert third["status"] == "skipped_limit" and third["tweet_id"] is None and third["attempts"] == 0
    assert "limit of 2 tweets in any 24 hours" in third["detail"]

    # a restart on the same outbox sends nothing again: the receipts were acknowledged
    publisher = TweetPublisher(broker, Outbox(db), DryRunSender(tmp_path / "dry.jsonl"), limit=2)
    assert publisher.send_receipts() == 0
    publisher.close()
    assert len(_receipts(broker, account)) == 3

    # the API's read model over both topics: publish_status comes from the receipt
    client = TestClient(make_app(), raise_server_exceptions=False)
    rm = client.app.state.wirereport.read_model
    for name in ("tweet-commands", "tweet-receipts"):
        for msg in consume_raw(broker, name, timeout=1.5):
            rm.apply(name, msg.key(), msg.value())
    page = client.get(f"/v1/tweets?account={account}", headers=bearer()).json()
    status = {t["command_id"]: t["publish_status"] for t in page["items"]}
    assert status == {
        commands[0]["command_id"]: "dry_run",
        commands[1]["command_id"]: "dry_run",
        commands[2]["command_id"]: "skipped_limit",
    }
    item = next(t for t in page["items"] if t["command_id"] == commands[0]["command_id"])
    assert item["receipt"]["tweet_id"] == f"dryrun-{commands[0]['command_id']}"


def test_a_receipt_not_acknowledged_is_sent_again(broker, tmp_path):
    """At-least-once: a receipt stays unsent in the outbox until the broker acknowledged it."""
    account = f"TEST-{uuid.uuid4().hex[:8]}"
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    command = {**_touchdown(account, "7", datetime(2018, 9, 9, 20, tzinfo=UTC)), "occurred_at": "2018-09-09T20:00:00Z"}
    outbox.accept([(command, "2018-09-09")], limit=17, now=0.0)
    down = TweetPublisher("127.0.0.1:1", outbox, DryRunSender(tmp_path / "dry.jsonl"))
    down._producer = EdgeProducer("127.0.0.1:1", **{"message.timeout.ms": 1000})
    down.deliver_once()
    assert down.send_receipts() == 0  # the broker is unreachable: kept
    assert outbox.receipt(command["command_id"])["sent"] == 0
    down._producer = None
    publisher = TweetPublisher(broker, outbox, DryRunSender(tmp_path / "dry.jsonl"))
    assert publisher.send_receipts() == 1
    assert outbox.receipt(command["command_id"])["sent"] == 1
    [receipt] = _receipts(broker, account)
    assert receipt["status"] == "dry_run" and receipt["command_id"] == command["command_id"]
    publisher.close()
