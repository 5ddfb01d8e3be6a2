"""Read-model views, ETags and the rate limiter (pure, no Kafka)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from api.read_model import ReadModel
from api.security import RateLimiter
from api.views import DeadLetterSummary, KeyedView, LogView, etag_matches
from schemas.codec import get_codec


def game(game_id="g1", home=0, away=0, league="NFL", status="live"):
    return {
        "game_id": game_id,
        "league": league,
        "home_team": "NE",
        "away_team": "NYJ",
        "home_score": home,
        "away_score": away,
        "period": 1,
        "clock_seconds": 900,
        "status": status,
        "last_play_id": "p1",
        "last_sequence": 1,
        "plays_seen": 1,
        "updated_at": datetime(2026, 11, 1, 18, 0, tzinfo=UTC),
        "win_prob_home": 0.5,
    }


def test_keyed_view_versions_bodies_and_tombstones():
    view = KeyedView("games", "game_id")
    view.apply("g1", {"game_id": "g1", "x": 1})
    body, etag = view.body("g1")
    assert body == b'{"game_id":"g1","x":1}' and view.version == 1
    assert view.body("g1") == (body, etag)  # cached
    view.apply("g1", {"game_id": "g1", "x": 2})
    assert view.body("g1")[1] != etag and view.version == 2
    view.apply("g1", None)
    assert view.get("g1") is None and view.body("g1") is None and view.version == 3
    view.apply("g1", None)  # deleting what is not there changes nothing
    assert view.version == 3


def test_log_view_dedupes_bounds_and_indexes():
    view = LogView("tweets", maxlen=3, id_field="command_id", index_field="game_id")
    for i in range(5):
        assert view.append({"command_id": f"c{i}", "game_id": "g1" if i % 2 else "g2"})
    assert not view.append({"command_id": "c4", "game_id": "g2"})  # redelivered
    assert [r["command_id"] for r in view.recent()] == ["c4", "c3", "c2"]
    assert [r["command_id"] for r in view.by_index("g1")] == ["c3"]
    assert [r["command_id"] for r in view.by_index("g2")] == ["c2", "c4"]


def test_subscribers_get_changes_and_slow_ones_are_dropped():
    view = KeyedView("games", "game_id")
    view.subscribers.queue_size = 2
    sub = view.subscribers.subscribe()
    view.apply("a", {"v": 1})
    view.apply("a", {"v": 2})
    assert sub.queue.get_nowait() == {"key": "a", "record": {"v": 1}}
    view.apply("a", {"v": 3})
    view.apply("a", {"v": 4})  # queue full: dropped
    assert sub.dropped and len(view.subscribers) == 0


def test_etag_matching_follows_weak_comparison():
    assert etag_matches('"abc"', '"abc"')
    assert etag_matches('W/"abc"', '"abc"')
    assert etag_matches('"x", "abc"', '"abc"')
    assert etag_matches("*", '"abc"')
    assert not etag_matches('"abd"', '"abc"') and not etag_matches(None, '"abc"')


def test_dead_letter_summary_never_keeps_raw_bytes():
    summary = DeadLetterSummary()
    summary.add({"source_topic": "plays", "reason": "bad magic: x", "value": "c2VjcmV0", "key": "aw==", "offset": 3})
    summary.add({"source_topic": "plays", "reason": "bad magic: y", "value": "", "offset": 4})
    out = summary.as_dict()
    assert out["total"] == 2 and out["by_topic"] == {"plays": 2} and out["by_reason"] == {"bad magic": 2}
    assert all("value" not in r and "key" not in r for r in out["recent"])
    assert out["recent"][0]["offset"] == 4


def test_read_model_applies_encoded_records_and_counts_bad_ones():
    rm = ReadModel("127.0.0.1:1")
    codec = get_codec()
    assert rm.apply("game-state", b"g1", codec.encode("GameState", game(home=7)))
    assert rm.keyed["games"].get("g1")["home_score"] == 7
    assert rm.keyed["games"].get("g1")["updated_at"] == "2026-11-01T18:00:00Z"
    assert not rm.apply("game-state", b"g1", b"garbage")
    assert rm.status.topics["game-state"].decode_errors == 1
    play = codec.encode(
        "TweetCommand",
        {
            "command_id": "c1",
            "account": "nfl",
            "league": "NFL",
            "game_id": "g1",
            "play_id": "p1",
            "text": "TD",
            "style": "hype",
            "urgency": "high",
            "significance": 3.5,
            "win_prob_home": 0.8,
            "occurred_at": datetime(2026, 11, 1, tzinfo=UTC),
        },
    )
    assert not rm.apply("game-state", b"g1", play)  # a TweetCommand is not allowed on game-state
    assert rm.apply("tweet-commands", b"nfl", play)
    assert rm.logs["tweets"].by_index("g1")[0]["significance"] == 3.5
    assert rm.apply("game-state", b"g1", None)  # tombstone
    assert rm.keyed["games"].get("g1") is None


def test_read_model_skips_topics_without_a_schema_and_explains_readiness():
    rm = ReadModel("127.0.0.1:1")
    missing = {n for n, t in rm.status.topics.items() if t.skipped}
    names = set(get_codec().registry.names())
    for topic in missing:
        assert not rm.status.topics[topic].schemas
    assert "GameState" in names and "game-state" not in missing
    ready, reason = rm.readiness()
    assert not ready and "broker unreachable at 127.0.0.1:1" in reason
    rm.status.broker_reachable = True
    assert rm.readiness() == (False, "read model catching up (lag 0 messages)")
    rm.status.caught_up = True
    rm.status.topics["game-state"].lag = 20000
    assert "lagging: 20000" in rm.readiness()[1]
    rm.status.topics["game-state"].lag = 0
    assert rm.readiness() == (True, "ok")


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_token_bucket_allows_bursts_then_refills_at_the_rate():
    clock = FakeClock()
    limiter = RateLimiter(rate=2.0, burst=3, clock=clock)
    assert [limiter.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.take("a") == pytest.approx(0.5)
    assert limiter.take("b") == 0.0  # buckets are per credential
    clock.now += 0.5
    assert limiter.take("a") == 0.0
    assert limiter.take("a") > 0
    clock.now += 100
    assert [limiter.take("a") for _ in range(4)][-1] > 0  # never more than the burst
    assert RateLimiter.retry_after(0.2) == "1" and RateLimiter.retry_after(2.1) == "3"


def test_token_bucket_forgets_least_recently_used_keys():
    limiter = RateLimiter(rate=1.0, burst=1, clock=FakeClock(), max_keys=2)
    limiter.take("a")
    limiter.take("b")
    limiter.take("c")
    assert limiter.take("a") == 0.0  # "a" was forgotten: a fresh bucket
    with pytest.raises(ValueError):
        RateLimiter(rate=0, burst=1)


def test_log_view_dedupes_on_several_fields():
    view = LogView("alert_history", maxlen=10, id_field=("fingerprint", "status", "at"), index_field="fingerprint")
    assert view.append({"fingerprint": "f", "status": "firing", "at": "t1"})
    assert not view.append({"fingerprint": "f", "status": "firing", "at": "t1"})  # read again after a rewind
    assert view.append({"fingerprint": "f", "status": "resolved", "at": "t2"})
    assert [r["status"] for r in view.by_index("f")] == ["firing", "resolved"]
