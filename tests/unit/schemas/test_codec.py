"""Avro single-object encoding: round trips, writer-version resolution, clear errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from schemas.codec import MAGIC, Codec
from schemas.exceptions import DecodeError, EncodeError
from schemas.json_form import from_json, to_json
from schemas.registry import SchemaRegistry, SchemaVersion

PLAY = {
    "league": "NFL",
    "game_id": "g1",
    "play_id": "p1",
    "sequence": 1,
    "occurred_at": "2018-09-09T17:00:00Z",
    "period": 1,
    "clock_seconds": 900,
    "home_team": "NE",
    "away_team": "HOU",
    "home_score": 0,
    "away_score": 0,
    "description": "kickoff",
    "event_type": "play",
}


def test_round_trip_of_a_play_through_json_and_avro(tmp_path):
    codec = Codec()
    record = from_json("Play", PLAY)
    data = codec.encode("Play", record)
    assert data[:2] == MAGIC
    name, decoded = codec.decode(data, ("Play",))
    assert name == "Play"
    assert decoded["occurred_at"] == datetime(2018, 9, 9, 17, tzinfo=UTC)
    assert decoded["possession"] is None
    assert to_json("Play", decoded) == {
        **PLAY,
        "possession": None,
        "down": None,
        "yards_to_go": None,
        "yardline_100": None,
    }


def test_garbage_and_unknown_fingerprints_are_decode_errors():
    codec = Codec()
    with pytest.raises(DecodeError, match="magic"):
        codec.decode(b"\x00garbage bytes")
    with pytest.raises(DecodeError, match="unknown schema fingerprint"):
        codec.decode(MAGIC + b"\x01" * 8 + b"\x00")
    good = codec.encode("Play", from_json("Play", PLAY))
    with pytest.raises(DecodeError, match="corrupt Play"):
        codec.decode(good[:14])
    with pytest.raises(DecodeError, match="not allowed"):
        codec.decode(good, ("GameState",))


def test_validation_names_the_bad_field():
    with pytest.raises(EncodeError, match="home_score"):
        Codec().validate("Play", {**from_json("Play", PLAY), "home_score": "seven"})
    with pytest.raises(EncodeError, match="missing field"):
        from_json("Play", {k: v for k, v in PLAY.items() if k != "game_id"})
    with pytest.raises(EncodeError, match="occurred_at"):
        from_json("Play", {**PLAY, "occurred_at": "yesterday"})


def test_an_old_writer_version_is_resolved_to_the_latest_reader():
    """A v1 producer keeps working after v2 adds a field with a default."""
    base = SchemaRegistry.load()
    v1 = base.latest("Play")
    raw_v2 = json.loads(json.dumps(v1.raw))
    raw_v2["fields"].append({"name": "venue", "type": "string", "default": "unknown"})
    v2 = SchemaVersion.from_raw("Play", v1.version + 1, raw_v2)
    old_codec = Codec(base)
    new_codec = Codec(base.with_versions(v2))
    data = old_codec.encode("Play", from_json("Play", PLAY))
    name, record = new_codec.decode(data)
    assert name == "Play"
    assert record["venue"] == "unknown"
    assert record["game_id"] == "g1"


def test_league_event_v1_records_still_decode_and_v2_may_leave_the_multiplier_to_the_profile():
    registry = SchemaRegistry.load()
    assert [v.version for v in registry.versions("LeagueEvent")] == [1, 2, 3]  # 3: cancellations
    released_v1 = SchemaRegistry(
        [v for name in registry.names() for v in registry.versions(name) if name != "LeagueEvent" or v.version == 1]
    )
    event = {
        "event_id": "e1",
        "league": "NBA",
        "kind": "breaking_news",
        "multiplier": 2.0,
        "starts_at": "2026-11-24T18:00:00Z",
        "duration_seconds": 3600,
    }
    old = Codec(released_v1).encode("LeagueEvent", from_json("LeagueEvent", event))
    name, record = Codec(registry).decode(old, ("ScheduledGame", "LeagueEvent"))
    assert name == "LeagueEvent" and record["multiplier"] == 2.0 and record["description"] == ""
    assert record["cancelled"] is False
    new = Codec(registry).encode("LeagueEvent", from_json("LeagueEvent", {**event, "multiplier": None}))
    assert Codec(registry).writer_of(new).version == 3
    assert Codec(registry).decode(new)[1]["multiplier"] is None
