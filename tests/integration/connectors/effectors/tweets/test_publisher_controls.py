"""Operator controls end to end: PublisherControl records on a real embedded broker (one of its own: no other
test's commands) -> the tweet publisher -> the fake X of the testing kit (every signature checked). A failed tweet
retried is posted once; a cancelled one is never posted, even redelivered; a paused account posts nothing until
it is resumed, then within its limit; each control applies once across a restart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from connectors.effectors.tweets.accounts import AccountPoster, XAccounts, XCredentials
from connectors.effectors.tweets.controls import control_record
from connectors.effectors.tweets.delivery import RetryPolicy
from connectors.effectors.tweets.outbox import Outbox
from connectors.effectors.tweets.publisher import TweetPublisher
from connectors.effectors.tweets.rolling_limit import RollingLimit
from connectors.kafka.edge import EdgeProducer, consume_records
from connectors.testing import running_broker, tweet_command, wait_until
from connectors.testing.fake_x import Answer, FakeX

LEAGUES = ("NFL", "NBA", "WNBA")
LIMIT = 3
AT = datetime(2027, 1, 15, 12, 0, tzinfo=UTC)


def credentials(account: str) -> XCredentials:
    a = account.lower()
    return XCredentials(
        consumer_key=f"{a}-ck", consumer_secret=f"{a}-cs", access_token=f"1-{a}-at", access_token_secret=f"{a}-ats"
    )


def command(account: str, n: int) -> dict:
    at = datetime(2018, 9, 9, 20, 0, tzinfo=UTC) + timedelta(minutes=n)
    return tweet_command(account, str(n), at, league=account, text=f"{account} moment {n}")


def control(action: str, account: str, command_id: str | None = None, n: int = 0) -> dict:
    at = AT + timedelta(seconds=n)
    return control_record(action, account, requested_by="ops", requested_at=at, command_id=command_id, reason="test")


def produce(bootstrap: str, topic: str, records: list[dict]) -> None:
    with EdgeProducer(bootstrap) as producer:
        for record in records:
            producer.send(topic, record)


@pytest.fixture(scope="module")
def own_broker():
    with running_broker() as bootstrap:
        yield bootstrap


@pytest.fixture
def fake_x():
    fake = FakeX({a: credentials(a) for a in LEAGUES}, posts_per_day=LIMIT)
    with fake.serving() as url:
        fake.url = url
        yield fake


class Publisher:
    """The publisher class on the broker, with the accounts' own keys against the fake X; one try per tweet."""

    def __init__(self, bootstrap: str, fake: FakeX, db):
        accounts = XAccounts({a: credentials(a) for a in LEAGUES})
        sender = AccountPoster.from_accounts(accounts, RollingLimit(LIMIT), base_url=fake.url)
        self.publisher = TweetPublisher(
            bootstrap, Outbox(db), sender, limit=LIMIT, policy=RetryPolicy(0.01, 0.01, max_attempts=1)
        )

    def read(self, consumed: int) -> None:
        """Read until ``consumed`` more messages were stored (no delivery meanwhile)."""
        target = self.publisher.stats["consumed"] + consumed
        wait_until(lambda: self.publisher.poll_once(0.3) >= 0 and self.publisher.stats["consumed"] >= target, 30)

    def deliver(self) -> dict[str, int]:
        counts = self.publisher.deliver_once()
        self.publisher.send_receipts()
        return counts

    def status(self, command_id: str) -> str:
        return self.publisher.outbox.get(command_id)["status"]

    def close(self) -> None:
        self.publisher.close()


def receipts(bootstrap: str) -> dict[str, dict]:
    """The latest receipt of each command (the topic is compacted on the command id)."""
    return {r["command_id"]: r for _, r in consume_records(bootstrap, "tweet-receipts", timeout=1.0)}


def test_retry_cancel_pause_and_resume_through_the_broker(own_broker, fake_x, tmp_path):
    db = tmp_path / "outbox.sqlite3"
    nfl, nba, wnba = [command("NFL", 0)], [command("NBA", n) for n in range(2)], [command("WNBA", n) for n in range(5)]
    fake_x.script("NFL", Answer.server_error(500))  # its first try fails for good (one attempt allowed)
    produce(own_broker, "tweet-commands", nfl + nba)
    produce(own_broker, "publisher-controls", [control("pause", "WNBA")])
    pub = Publisher(own_broker, fake_x, db)
    pub.read(1 + 2 + 1)
    produce(own_broker, "tweet-commands", wnba)
    pub.read(5)
    assert pub.publisher.stats["paused"] == 3 and pub.publisher.stats["over_limit"] == 2  # held ones count

    # NBA's first command is cancelled before its turn; NFL's fails
    produce(own_broker, "publisher-controls", [control("cancel", "NBA", nba[0]["command_id"])])
    pub.read(1)
    counts = pub.deliver()
    assert (counts["failed"], counts["posted"]) == (1, 1)
    assert fake_x.posts_of("NBA") == [nba[1]["text"]] and fake_x.posts_of("WNBA") == []
    assert pub.status(nfl[0]["command_id"]) == "failed"

    # retried: posted once; the cancelled command redelivered is never posted; WNBA still waits
    retry = control("retry", "NFL", nfl[0]["command_id"])
    produce(own_broker, "publisher-controls", [retry])
    produce(own_broker, "tweet-commands", nba[:1])
    pub.read(2)
    pub.deliver()
    assert fake_x.posts_of("NFL") == [nfl[0]["text"]]
    assert fake_x.posts_of("NBA") == [nba[1]["text"]] and fake_x.posts_of("WNBA") == []
    assert pub.status(nba[0]["command_id"]) == "cancelled"
    pub.close()

    # a restart resumes after the stored positions: the controls are not applied again; a retry of a posted
    # command (and the same retry sent twice) is refused or recognised, and nothing is posted again
    pub = Publisher(own_broker, fake_x, db)
    produce(own_broker, "publisher-controls", [retry, control("retry", "NFL", nfl[0]["command_id"], n=1)])
    pub.read(2)
    stats = pub.publisher.stats
    assert (stats["controls_duplicate"], stats["controls_refused"], stats["controls_applied"]) == (1, 1, 0)
    refused = pub.publisher.outbox.control(control("retry", "NFL", nfl[0]["command_id"], n=1)["control_id"])
    assert refused["detail"] == f"command {nfl[0]['command_id']} is posted: retrying it would post it twice"
    pub.deliver()
    assert fake_x.posts_of("NFL") == [nfl[0]["text"]] and fake_x.posts_of("WNBA") == []

    # resumed: the held commands go out, within the limit (3 in any 24 hours; the other 2 were over it)
    produce(own_broker, "publisher-controls", [control("resume", "WNBA")])
    pub.read(1)
    pub.deliver()
    assert sorted(fake_x.posts_of("WNBA")) == [c["text"] for c in wnba[:LIMIT]]
    assert sum(r.status == 429 for r in fake_x.requests) == 0  # X never had to refuse a post over its limit
    pub.close()

    latest = receipts(own_broker)
    status = {c["command_id"]: latest[c["command_id"]]["status"] for c in nfl + nba + wnba}
    assert [status[c["command_id"]] for c in nfl] == ["posted"]
    assert [status[c["command_id"]] for c in nba] == ["cancelled", "posted"]
    assert [status[c["command_id"]] for c in wnba] == ["posted"] * 3 + ["skipped_limit"] * 2
    assert latest[nfl[0]["command_id"]]["attempts"] == 1  # fresh attempts: the failed one is not counted
    assert latest[nba[0]["command_id"]]["detail"] == "cancel by ops: test"
