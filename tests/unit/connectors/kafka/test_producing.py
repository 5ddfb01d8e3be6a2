"""``wirereport produce``'s edge: every line checked before anything is produced; bad lines reported, good ones sent."""

from __future__ import annotations

import json

import pytest

from connectors.kafka import edge as producing
from schemas.codec import get_codec

PLAY = {
    "league": "NFL",
    "game_id": "2018090905",
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
    "possession": "NE",
    "down": None,
    "yards_to_go": None,
    "yardline_100": None,
}
GAME = {"league": "NFL", "game_id": "g1", "home_team": "NE", "away_team": "HOU"}


class FakeProducer:
    """Collects what would be produced (the broker is the e2e test's)."""

    sent: list[tuple[str, bytes, bytes, int | None]] = []

    def __init__(self, bootstrap: str):
        FakeProducer.sent = []

    def __enter__(self):
        return self

    def __exit__(self, *_):
        return None

    def send_raw(self, spec, key, value, partition=None):
        FakeProducer.sent.append((spec.name, key, value, partition))


@pytest.fixture
def fake_producer(monkeypatch):
    monkeypatch.setattr(producing, "EdgeProducer", FakeProducer)
    return FakeProducer


def write(tmp_path, lines: list) -> str:
    path = tmp_path / "in.jsonl"
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines))
    return str(path)


def test_bad_lines_are_reported_and_every_valid_line_is_produced_even_after_a_huge_one(tmp_path, fake_producer, capsys):
    lines = [
        PLAY,
        {**PLAY, "play_id": "p2", "sequence": 2, "occurred_at": "0001-01-01T00:00:00Z"},
        {**PLAY, "play_id": "p3", "sequence": 3, "period": 99, "clock_seconds": 99999},
        {**PLAY, "play_id": "p4", "sequence": 4, "description": "x" * (1024 * 1024 + 10)},
        "{not json",
        [1, 2],
        {**PLAY, "play_id": "p7", "sequence": 7, "home_score": 2147483647},
        {**PLAY, "play_id": "p8", "sequence": 8, "league": "MLB"},
        {**PLAY, "play_id": "p9", "sequence": 9},
    ]
    path = write(tmp_path, lines)
    result = producing.produce_file("unused:9092", "plays", path)
    assert (result.sent, result.invalid) == (2, 7)
    codec = get_codec()
    sent = [codec.decode(value, ["Play"])[1]["play_id"] for _, _, value, _ in fake_producer.sent]
    assert sent == ["p1", "p9"]
    assert {key for _, key, _, _ in fake_producer.sent} == {b"2018090905"}
    errors = capsys.readouterr().err.splitlines()
    assert [line.split(": ", 1)[0] for line in errors] == [f"{path}:{n}" for n in (2, 3, 4, 5, 6, 7, 8)]
    assert "occurred_at 0001-01-01 00:00:00+00:00 is not within 2000-01-01..2100-01-01" in errors[0]
    assert "period 99 is not 1-10" in errors[1] and "clock_seconds 99999" in errors[1]
    assert "description of 1048586 characters is over 2000" in errors[2]
    assert "not valid JSON" in errors[3]
    assert "not a JSON object but list" in errors[4]
    assert "home_score 2147483647 is not 0-300" in errors[5]


def test_a_record_over_the_broker_limit_is_reported_not_sent(tmp_path, fake_producer, capsys):
    # a topic without a domain bound on its text: only the size stops it
    dead = {
        "source_topic": "plays",
        "partition": 0,
        "offset": 1,
        "key": None,
        "value": "",
        "reason": "r" * 1_200_000,
        "agent": "games",
        "failed_at": "2024-01-01T00:00:00Z",
    }
    path = write(tmp_path, [dead, {**dead, "reason": "short"}])
    result = producing.produce_file("unused:9092", "dead-letters", path)
    assert (result.sent, result.invalid) == (1, 1)
    assert "encodes to 1200" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("schema", "topic", "record", "reason"),
    [
        ("ScheduledGame", "league-events", {**GAME, "scheduled_start": "0001-01-01T00:00:00Z"}, "scheduled_start"),
        (
            "SystemMetrics",
            "system-metrics",
            {
                "server_id": "nba-1",
                "league": "NBA",
                "observed_at": "2024-01-01T00:00:00Z",
                "cpu_percent": float("nan"),  # written as the bare NaN that Python's json reads
                "memory_percent": 1.0,
                "disk_percent": 1.0,
                "net_bytes_sent_per_s": 0.0,
                "net_bytes_recv_per_s": 0.0,
                "workload": 0.0,
                "active_agents": 1,
                "interval_seconds": 30.0,
            },
            "cpu_percent nan is not a percentage",
        ),
        (
            "LeagueEvent",
            "league-events",
            {
                "event_id": "e1",
                "league": "NBA",
                "kind": "breaking_news",
                "multiplier": 1e300,
                "starts_at": "2024-01-01T00:00:00Z",
                "duration_seconds": 60,
                "description": "",
            },
            "multiplier 1e+300 is not a positive number up to 100",
        ),
        (
            "Silence",
            "silences",
            {
                "silence_id": "s1",
                "matchers": {},
                "starts_at": "2024-01-01T00:00:00Z",
                "ends_at": "2024-01-02T00:00:00Z",
                "created_by": "ops",
                "comment": "",
            },
            "matchers is empty",
        ),
    ],
)
def test_each_record_type_is_checked_with_its_domain_bounds(
    tmp_path, fake_producer, capsys, schema, topic, record, reason
):
    result = producing.produce_file("unused:9092", topic, write(tmp_path, [record]), schema=schema)
    assert (result.sent, result.invalid) == (0, 1)
    assert reason in capsys.readouterr().err
