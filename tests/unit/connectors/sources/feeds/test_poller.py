"""The feed poller's logic against the recorded feed (in-process transport), a recording producer, a real
position store and a hand-moved clock."""

from __future__ import annotations

import json
import random
import re
from datetime import UTC, datetime

import httpx
import pytest

from connectors.circuit_breaker import CLOSED, OPEN, BreakerConfig, CircuitBreaker
from connectors.exceptions import BrokerUnavailable, InputError
from connectors.sources.feeds.base import FeedGame
from connectors.sources.feeds.nba_playbyplayv2 import NbaPlaybyplayV2Adapter
from connectors.sources.feeds.nfl_gamecenter import NflGamecenterAdapter
from connectors.sources.feeds.poller import (
    FINAL,
    LIVE,
    SCHEDULED,
    SKIPPED,
    STALE,
    FeedPoller,
    PollerConfig,
    backoff_delay,
    changed_plays,
)
from connectors.sources.feeds.positions import FeedPositions, content_hash
from connectors.sources.importers import nfl
from connectors.testing import SAMPLE_DATA
from connectors.testing.feed_server import RecordedFeed

EID = "2018090900"
KICKOFF = datetime(2018, 9, 9, 17, 0, tzinfo=UTC)
GAME = FeedGame("NFL", EID, "BAL", "BUF", KICKOFF, 2018, "REG")


class RecordingProducer:
    """Keeps what was sent; a flush delivers it (or fails while ``down``)."""

    def __init__(self):
        self.pending: list[tuple[str, dict]] = []
        self.delivered: list[tuple[str, dict]] = []
        self.down = False

    def send(self, topic, record, schema=None):
        self.pending.append((topic, record))

    def flush(self, timeout=30.0):
        if self.down:
            self.pending.clear()
            raise BrokerUnavailable("1 message(s) not delivered")
        self.delivered.extend(self.pending)
        self.pending.clear()

    def plays(self) -> list[dict]:
        return [r for t, r in self.delivered if t == "plays"]


class Clock:
    def __init__(self, at: float):
        self.at = at

    def __call__(self) -> float:
        return self.at


@pytest.fixture
def feed():
    feed = RecordedFeed()
    feed.add_nfl_game(EID)
    return feed


@pytest.fixture(scope="module")
def imported():
    info = next(g for g in nfl.select_games(2018, 1) if g["eid"] == EID)
    return nfl.game_plays(info, nfl.load_game(EID))


def _http(feed: RecordedFeed) -> httpx.Client:
    def handle(request: httpx.Request) -> httpx.Response:
        status, headers, body = feed.answer(request.url.path, request.headers)
        return httpx.Response(status, headers=headers, content=body)

    return httpx.Client(transport=httpx.MockTransport(handle))


def _poller(feed, tmp_path, producer, clock, breaker=None, games=(GAME,), named=(EID,), **config):
    settings = {"interval": 5.0, "stale_after": 600.0, "backoff_initial": 1.0, "backoff_max": 60.0, **config}
    lines: list[str] = []
    poller = FeedPoller(
        NflGamecenterAdapter(),
        list(games),
        PollerConfig("http://feed.test/{game_id}.json", **settings),
        producer,
        FeedPositions(tmp_path / "feed.sqlite"),
        breaker,
        http=_http(feed),
        named=set(named),
        clock=clock,
        rng=random.Random(7),
        report=lines.append,
    )
    return poller, lines


def _ids(plays):
    return [p["play_id"] for p in plays]


def _as_json(plays):
    """Records as the poller produced them (timestamps parsed), back in their JSON form for comparison."""
    return [{**p, "occurred_at": p["occurred_at"].isoformat().replace("+00:00", "Z")} for p in plays]


def test_backoff_doubles_up_to_the_cap_with_jitter():
    rng = random.Random(1)
    for failures, ceiling in ((1, 1.0), (2, 2.0), (3, 4.0), (6, 30.0), (20, 30.0)):
        delays = [backoff_delay(failures, 1.0, 30.0, rng) for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(set(delays)) > 1


def test_changed_plays_are_the_new_and_the_corrected_in_order():
    a, b, c = ({"play_id": str(i), "sequence": i, "home_score": 0} for i in range(3))
    sent = {"0": content_hash(a), "1": content_hash(b)}
    corrected_b = {**b, "home_score": 3}
    assert changed_plays([a, corrected_b, c], sent) == [corrected_b, c]


def test_url_template_needs_a_game_id():
    with pytest.raises(InputError, match=re.escape("no {game_id}")):
        PollerConfig("http://feed.test/game.json")
    with pytest.raises(InputError, match=re.escape("only {game_id} and {league}")):
        PollerConfig("http://feed.test/{season}/{game_id}.json")


def test_plays_go_out_once_in_order_as_the_game_grows(feed, tmp_path, imported):
    producer, clock = RecordingProducer(), Clock(KICKOFF.timestamp() + 10 * 86400)
    poller, lines = _poller(feed, tmp_path, producer, clock)
    for revealed in range(0, feed.total(EID), 25):
        feed.reveal(EID, revealed)
        poller.step()
        clock.at += 5
    feed.reveal(EID)
    poller.step()
    assert _as_json(producer.plays()) == imported  # each once, in order, equal to the importer's records
    assert [r for t, r in producer.delivered if t == "league-events"] == [
        {"league": "NFL", "game_id": EID, "home_team": "BAL", "away_team": "BUF", "scheduled_start": KICKOFF}
    ]
    assert poller.games[0].state == FINAL
    assert lines[0] == "NFL 2018090900 BUF@BAL: live" and lines[-1].startswith("NFL 2018090900 BUF@BAL: final")
    assert poller.step() is None  # nothing left to follow


def test_an_unchanged_document_is_not_fetched_again(feed, tmp_path):
    producer, clock = RecordingProducer(), Clock(KICKOFF.timestamp() + 86400)
    poller, _lines = _poller(feed, tmp_path, producer, clock)
    feed.reveal(EID, 60)
    poller.step()
    sent = len(producer.delivered)
    for _ in range(3):
        clock.at += 5
        poller.step()
    assert feed.statuses() == [200, 304, 304, 304]
    assert len(producer.delivered) == sent and poller.stats.not_modified == 3


def test_a_poll_is_made_only_when_due(feed, tmp_path):
    producer, clock = RecordingProducer(), Clock(KICKOFF.timestamp() + 86400)
    poller, _lines = _poller(feed, tmp_path, producer, clock)
    assert poller.step() == 5.0
    clock.at += 2
    assert poller.step() == 3.0
    assert len(feed.requests) == 1


def test_errors_back_off_count_for_the_breaker_and_are_reported_once_per_burst(feed, tmp_path):
    producer, clock = RecordingProducer(), Clock(KICKOFF.timestamp() + 86400)
    ticks = [0.0]
    breaker = CircuitBreaker(
        "feed-nfl",
        BreakerConfig(sliding_window_size=4, minimum_number_of_calls=4, permitted_calls_in_half_open_state=1),
        clock=lambda: ticks[0],
    )
    poller, lines = _poller(feed, tmp_path, producer, clock, breaker)
    feed.reveal(EID, 30)
    feed.fail_next(4)
    delays = []
    for _ in range(4):
        before = clock.at
        poller.step()
        delays.append(poller.games[0].next_poll_at - before)
        clock.at = poller.games[0].next_poll_at
    assert 0.5 <= delays[0] <= 1 and 1 <= delays[1] <= 2 and 2 <= delays[2] <= 4 and 4 <= delays[3] <= 8
    assert breaker.state == OPEN and producer.plays() == []
    poller.step()  # OPEN: no request made
    assert len(feed.requests) == 4
    ticks[0] += 61  # past the breaker's wait: a probe goes through, passes, the breaker closes
    clock.at += 10
    poller.step()
    assert breaker.state == CLOSED and producer.plays()
    burst_lines = [line for line in lines if "feed error" in line or "feed back" in line]
    assert burst_lines == [
        "NFL 2018090900 BUF@BAL: feed error: http://feed.test/2018090900.json answered HTTP 500; backing off",
        "NFL 2018090900 BUF@BAL: feed back after 4 failed poll(s)",
    ]


def test_a_malformed_body_produces_nothing_and_the_poller_goes_on(feed, tmp_path, imported, caplog):
    producer, clock = RecordingProducer(), Clock(KICKOFF.timestamp() + 86400)
    poller, _lines = _poller(feed, tmp_path, producer, clock)
    feed.reveal(EID, 40)
    feed.malformed_next()
    poller.step()
    assert producer.delivered == [] and poller.stats.failures == 1
    assert "malformed document from http://feed.test/2018090900.json: not JSON" in caplog.text
    clock.at = poller.games[0].next_poll_at
    poller.step()
    assert _as_json(producer.plays()) == imported[: len(producer.plays())] and producer.plays()


def test_a_corrected_play_is_sent_again_with_its_new_content(feed, tmp_path):
    producer, clock = RecordingProducer(), Clock(KICKOFF.timestamp() + 86400)
    poller, _lines = _poller(feed, tmp_path, producer, clock)
    feed.reveal(EID, 80)
    poller.step()
    first = {p["play_id"]: p for p in producer.plays()}
    target = next(iter(k for k in first if not k.endswith("-start")))

    def reword(document):
        for drive in document[EID]["drives"].values():
            if isinstance(drive, dict) and target in drive["plays"]:
                drive["plays"][target]["desc"] = "(corrected on review) " + drive["plays"][target]["desc"]

    feed.correct(EID, reword)
    clock.at += 5
    before = len(producer.plays())
    poller.step()
    again = producer.plays()[before:]
    assert _ids(again) == [target]
    assert again[0]["description"].startswith("(corrected on review) ")
    assert {**again[0], "description": first[target]["description"]} == first[target]
    assert poller.stats.corrections == 1
    assert _lines[-1] == f"NFL {EID} BUF@BAL: 1 corrected play(s) sent again ({target})"


def test_the_schedule_of_the_games_to_follow_is_announced_once_before_kickoff(feed, tmp_path):
    producer, clock = RecordingProducer(), Clock(KICKOFF.timestamp() - 3600)
    old = FeedGame("NFL", "2018090600", "PHI", "ATL", datetime(2018, 9, 7, 0, 20, tzinfo=UTC), 2018, "REG")
    poller, _lines = _poller(feed, tmp_path, producer, clock, games=(old, GAME), named=())
    assert poller.announce_schedule() == 1  # the skipped game is not announced
    assert [(t, r["game_id"]) for t, r in producer.delivered] == [("league-events", EID)]
    assert poller.announce_schedule() == 0
    clock.at = KICKOFF.timestamp()
    feed.reveal(EID, 10)
    poller.step()  # the game's first document does not send its ScheduledGame again
    assert [t for t, _r in producer.delivered].count("league-events") == 1
    poller.positions.close()
    restarted, _lines = _poller(feed, tmp_path, producer, clock, games=(old, GAME), named=())
    assert restarted.announce_schedule() == 0


def test_a_failed_delivery_is_fetched_and_sent_again(feed, tmp_path, imported):
    producer, clock = RecordingProducer(), Clock(KICKOFF.timestamp() + 86400)
    poller, _lines = _poller(feed, tmp_path, producer, clock)
    feed.reveal(EID, 50)
    producer.down = True
    poller.step()
    assert producer.delivered == [] and poller.games[0].etag is None
    producer.down = False
    clock.at += 5
    poller.step()
    assert feed.statuses() == [200, 200]
    assert _as_json(producer.plays()) == imported[: len(producer.plays())]


def test_a_restarted_poller_sends_nothing_twice(feed, tmp_path, imported):
    producer, clock = RecordingProducer(), Clock(KICKOFF.timestamp() + 86400)
    poller, _lines = _poller(feed, tmp_path, producer, clock)
    feed.reveal(EID, 70)
    poller.step()
    poller.positions.close()
    restarted, _lines = _poller(feed, tmp_path, producer, clock)
    feed.reveal(EID)
    restarted.step()
    assert _as_json(producer.plays()) == imported
    restarted.positions.close()
    again, _lines = _poller(feed, tmp_path, producer, clock)
    assert again.games[0].state == FINAL and again.step() is None


def test_games_start_at_kickoff_go_stale_and_old_ones_are_skipped(feed, tmp_path):
    producer, clock = RecordingProducer(), Clock(KICKOFF.timestamp() - 100)
    old = FeedGame("NFL", "2018090600", "PHI", "ATL", datetime(2018, 9, 7, 0, 20, tzinfo=UTC), 2018, "REG")
    poller, lines = _poller(feed, tmp_path, producer, clock, games=(old, GAME), named=())
    assert [g.state for g in poller.games] == [SKIPPED, SCHEDULED]
    assert poller.step() == 100
    clock.at = KICKOFF.timestamp()
    feed.reveal(EID, 10)
    poller.step()
    assert poller.games[1].state == LIVE
    for _ in range(200):
        clock.at += 5
        poller.step()
        if poller.games[1].state != LIVE:
            break
    assert poller.games[1].state == STALE and clock.at - KICKOFF.timestamp() == 600
    assert lines[-1].startswith("NFL 2018090900 BUF@BAL: stale (no change for 600 s;")


def test_nba_game_plays_and_its_schedule_go_out_once(tmp_path):
    feed = RecordedFeed()
    feed.add_nba_game()
    game = FeedGame("NBA", "0020901030", "MIA", "CHA", datetime(2010, 3, 13, 0, 41, tzinfo=UTC))
    producer, clock = RecordingProducer(), Clock(game.scheduled_start.timestamp() + 60)
    poller = FeedPoller(
        NbaPlaybyplayV2Adapter(),
        [game],
        PollerConfig("http://feed.test/{game_id}.json", interval=5.0),
        producer,
        FeedPositions(tmp_path / "feed.sqlite"),
        http=_http(feed),
        clock=clock,
    )
    for revealed in (1, 100, 300, None):
        feed.reveal("0020901030", revealed)
        poller.step()
        clock.at += 5
    events = [r for t, r in producer.delivered if t == "league-events"]
    assert len(events) == 1 and events[0]["home_team"] == "MIA"
    expected = [json.loads(line) for line in (SAMPLE_DATA / "nba_0020901030.jsonl").read_text().splitlines()]
    assert _as_json(producer.plays()) == expected and poller.games[0].state == FINAL
