"""The feed poller against the real embedded broker and the local recorded feed (a real HTTP server): a real NFL
game followed live gives on ``plays`` exactly the importer's records of its final file; 304s, error bursts, a
malformed body and a corrected play; and a ``wirereport feed`` process killed and restarted."""

from __future__ import annotations

import json
import random
import sqlite3
import uuid
from datetime import UTC, datetime

import httpx
import pytest

from connectors.circuit_breaker import CLOSED, OPEN, BreakerConfig, CircuitBreaker, edge_publisher
from connectors.kafka.edge import EdgeProducer, assigned_consumer
from connectors.sources.feeds.base import FeedGame
from connectors.sources.feeds.nfl_gamecenter import NflGamecenterAdapter
from connectors.sources.feeds.poller import FINAL, FeedPoller, PollerConfig
from connectors.sources.feeds.positions import FeedPositions
from connectors.sources.importers import nfl
from connectors.testing import WirereportProcess, wait_until
from connectors.testing.feed_server import RecordedFeed, nfl_partial, serving_feed
from schemas.codec import get_codec
from schemas.json_form import to_json
from streams.topics import topic

EID = "2018090900"  # BUF at BAL, 2018 week 1, served under a game id of its own in each test (one broker)
KICKOFF = datetime(2018, 9, 9, 17, 0, tzinfo=UTC)


class Tail:
    """What arrives on a topic from now on (decoded, JSON form)."""

    def __init__(self, bootstrap: str, topic_name: str):
        self.topic_name = topic_name
        self.consumer = assigned_consumer(bootstrap, [topic_name], "end")
        self.records: list[dict] = []

    def drain(self) -> list[dict]:
        codec, allowed = get_codec(), topic(self.topic_name).value_schemas
        while (msg := self.consumer.poll(0.3)) is not None:
            if not msg.error():
                name, record = codec.decode(msg.value(), allowed)
                self.records.append(to_json(name, record))
        return self.records

    def wait_for(self, predicate, timeout: float = 30.0) -> list[dict]:
        wait_until(lambda: predicate(self.drain()), timeout, message=lambda: f"{len(self.records)} records")
        return self.records

    def close(self) -> None:
        self.consumer.close()


@pytest.fixture(scope="module")
def recorded():
    info = next(g for g in nfl.select_games(2018, 1) if g["eid"] == EID)
    return nfl.game_plays(info, nfl.load_game(EID))


@pytest.fixture
def feed():
    feed = RecordedFeed()
    feed.game_id = feed.add_nfl_game(EID, f"{EID}-{uuid.uuid4().hex[:8]}")
    feed.game = FeedGame("NFL", feed.game_id, "BAL", "BUF", KICKOFF, 2018, "REG")
    with serving_feed(feed) as base_url:
        feed.base_url = base_url
        yield feed


@pytest.fixture
def imported(feed, recorded):
    """The importer's records of the final file, under the test's game id."""
    return [{**r, "game_id": feed.game_id} for r in recorded]


@pytest.fixture
def plays_tail(broker):
    tail = Tail(broker, "plays")
    yield tail
    tail.close()


class Clock:
    def __init__(self, at: float):
        self.at = at

    def __call__(self) -> float:
        return self.at


def _poller(feed, broker, tmp_path, breaker=None):
    producer = EdgeProducer(broker)
    clock = Clock(KICKOFF.timestamp() + 86400)
    poller = FeedPoller(
        NflGamecenterAdapter(),
        [feed.game],
        PollerConfig(feed.base_url + "/{game_id}.json", interval=5.0, backoff_initial=1.0, backoff_max=8.0),
        producer,
        FeedPositions(tmp_path / "feed.sqlite"),
        breaker,
        http=httpx.Client(timeout=5.0),
        named={feed.game_id},
        clock=clock,
        rng=random.Random(3),
    )
    return poller, producer, clock


def _of_game(feed, records):
    """Records of this test's game."""
    return [r for r in records if r["game_id"] == feed.game_id]


def test_a_live_game_gives_the_importer_records_once_each_in_order(feed, broker, tmp_path, plays_tail, imported):
    poller, _producer, clock = _poller(feed, broker, tmp_path)
    for revealed in range(30, feed.total(feed.game_id), 30):
        feed.reveal(feed.game_id, revealed)
        poller.step()
        clock.at += 5
    poller.step()  # nothing new: a 304, nothing produced
    assert feed.statuses()[-1] == 304
    sent_before_final = poller.stats.plays_sent
    assert (
        _of_game(feed, plays_tail.wait_for(lambda r: len(_of_game(feed, r)) >= sent_before_final))
        == imported[:sent_before_final]
    )
    feed.reveal(feed.game_id)
    clock.at += 5
    poller.step()
    assert poller.games[0].state == FINAL
    assert _of_game(feed, plays_tail.wait_for(lambda r: len(_of_game(feed, r)) >= len(imported))) == imported
    assert len(_of_game(feed, plays_tail.drain())) == len(imported)  # nothing more: no play twice


def test_an_error_burst_opens_the_breaker_and_it_closes_again(feed, broker, tmp_path, plays_tail, imported):
    states = Tail(broker, "breaker-state")
    name = f"feed-test-{uuid.uuid4().hex[:8]}"
    ticks = [0.0]
    producer = EdgeProducer(broker)
    breaker = CircuitBreaker(
        name,
        BreakerConfig(sliding_window_size=4, minimum_number_of_calls=4, permitted_calls_in_half_open_state=1),
        clock=lambda: ticks[0],
        on_state_change=edge_publisher(producer),
    )
    poller, _producer, clock = _poller(feed, broker, tmp_path, breaker)
    poller.producer = producer
    feed.reveal(feed.game_id, 40)
    feed.fail_next(4)
    for _ in range(5):
        poller.step()
        clock.at = poller.games[0].next_poll_at
    assert breaker.state == OPEN and feed.statuses() == [500, 500, 500, 500]  # the fifth was not let through
    ticks[0] += 120
    poller.step()
    assert breaker.state == CLOSED
    changes = states.wait_for(lambda r: len([s for s in r if s["breaker"] == name]) >= 3)
    assert [(s["previous_state"], s["state"]) for s in changes if s["breaker"] == name] == [
        ("CLOSED", "OPEN"),
        ("OPEN", "HALF_OPEN"),
        ("HALF_OPEN", "CLOSED"),
    ]
    sent = poller.stats.plays_sent
    assert sent and _of_game(feed, plays_tail.wait_for(lambda r: len(_of_game(feed, r)) >= sent)) == imported[:sent]
    states.close()


def test_a_malformed_body_produces_nothing_and_a_correction_is_produced_again(
    feed, broker, tmp_path, plays_tail, imported
):
    poller, _producer, clock = _poller(feed, broker, tmp_path)
    feed.reveal(feed.game_id, 50)
    feed.malformed_next()
    poller.step()
    assert poller.stats.failures == 1 and poller.stats.plays_sent == 0
    clock.at = poller.games[0].next_poll_at
    poller.step()
    sent = poller.stats.plays_sent
    assert _of_game(feed, plays_tail.wait_for(lambda r: len(_of_game(feed, r)) >= sent)) == imported[:sent]
    field_goal = next(p for p in imported[:sent] if p["event_type"] == "score")

    def overturn(document):  # the score is taken off on review: its scoring stats go
        for drive in document[feed.game_id]["drives"].values():
            if isinstance(drive, dict) and field_goal["play_id"] in drive["plays"]:
                play = drive["plays"][field_goal["play_id"]]
                play["players"] = {}
                play["desc"] += " (overturned on review)"
        document[feed.game_id]["scrsummary"].pop(field_goal["play_id"], None)

    feed.correct(feed.game_id, overturn)
    clock.at += 5
    poller.step()
    records = _of_game(feed, plays_tail.wait_for(lambda r: len(_of_game(feed, r)) > sent))
    corrected = next(r for r in records[sent:] if r["play_id"] == field_goal["play_id"])
    assert corrected["description"].endswith("(overturned on review)")
    assert corrected["home_score"] + corrected["away_score"] < field_goal["home_score"] + field_goal["away_score"]
    assert corrected["sequence"] == field_goal["sequence"]


def _sent_count(data_dir, game_id: str) -> int:
    path = data_dir / "feed-nfl.sqlite"
    if not path.exists():
        return 0
    with sqlite3.connect(path) as db:
        try:
            return db.execute("SELECT COUNT(*) FROM sent_plays WHERE game_id = ?", (game_id,)).fetchone()[0]
        except sqlite3.OperationalError:
            return 0


def _settled(feed, revealed: int) -> int:
    """How many records the poller can send once ``revealed`` plays are shown."""
    document = nfl_partial(feed.final_document(feed.game_id), feed.game_id, revealed)
    snapshot = NflGamecenterAdapter().convert(json.dumps(document).encode(), feed.game)
    return len(snapshot.plays)


def test_a_killed_feed_process_restarted_sends_nothing_twice_and_skips_nothing(
    feed, broker, tmp_path, plays_tail, imported
):
    schedule = tmp_path / "schedule.jsonl"
    schedule.write_text(json.dumps(feed.game.scheduled_game()) + "\n")
    url = feed.base_url + "/{game_id}.json"
    args = ["feed", "nfl", "--url-template", url, "--schedule", str(schedule), "--games", feed.game_id]
    args += ["--interval", "0.05"]
    label = f"NFL {feed.game_id} BUF@BAL"
    env = {"WIREREPORT_DATA_DIR": str(tmp_path), "WIREREPORT_FEED_STALE_AFTER_SECONDS": "120"}
    for revealed in (60, 130):
        feed.reveal(feed.game_id, revealed)
        expected = _settled(feed, revealed)
        process = WirereportProcess(args, bootstrap=broker, env=env).start()
        try:
            process.wait_for_output(f"{label}: live")
            wait_until(
                lambda n=expected: _sent_count(tmp_path, feed.game_id) >= n, 30, message=lambda p=process: p.output
            )
        finally:
            process.kill()  # SIGKILL, with everything delivered and recorded, polling for more
    feed.reveal(feed.game_id)
    with WirereportProcess(args, bootstrap=broker, env=env) as process:
        process.wait_for_output(f"{label}: final")
        wait_until(lambda: process.process.poll() is not None, 30, message=lambda: process.output)
    assert process.process.returncode == 0
    assert _of_game(feed, plays_tail.wait_for(lambda r: len(_of_game(feed, r)) >= len(imported))) == imported
    assert len(_of_game(feed, plays_tail.drain())) == len(imported)
