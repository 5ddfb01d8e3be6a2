"""A mixed day, the real NFL Sunday and the real NBA sample game on one date, through the running pipeline
(``wirereport produce`` into the embedded broker, one ``wirereport worker``) equals the backtest, per account."""

from __future__ import annotations

import gzip
import heapq
import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from connectors.kafka.edge import consume_raw, consume_records
from connectors.testing import SAMPLE_DATA, WirereportProcess, running_broker, wait_until
from schemas.json_form import from_json
from streams.games.backtest import run as backtest

APP_ID = "e2e-mixed-day"
BOUND_SECONDS = 85  # the whole live run, broker start to the last tweet command
# The NBA game tipped off on 2010-03-12 at 19:41 New York time; moved to 19:41 on the NFL Sunday (2018-09-09), it is
# played during the Sunday night game and ends the same evening, so both accounts spend one day's budget.
NBA_SHIFT = datetime(2018, 9, 9, 23, 41, tzinfo=UTC) - datetime(2010, 3, 13, 0, 41, tzinfo=UTC)


def read_jsonl(name: str) -> list[dict]:
    path = SAMPLE_DATA / name
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def moved_to_the_sunday(record: dict, field: str) -> dict:
    at = datetime.fromisoformat(record[field].replace("Z", "+00:00")) + NBA_SHIFT
    return {**record, field: at.strftime("%Y-%m-%dT%H:%M:%SZ")}


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


@pytest.fixture(scope="module")
def mixed_day() -> tuple[list[dict], list[dict]]:
    """(plays in time order, both schedules) as JSON lines, as a feed would record them."""
    nba_plays = [moved_to_the_sunday(p, "occurred_at") for p in read_jsonl("nba_0020901030.jsonl")]
    nba_games = [moved_to_the_sunday(g, "scheduled_start") for g in read_jsonl("nba_0020901030_schedule.jsonl")]
    # both files are in time order and their timestamps share one format, so the strings sort as times do
    plays = list(heapq.merge(read_jsonl("nfl_2018_week1_sunday.jsonl.gz"), nba_plays, key=lambda p: p["occurred_at"]))
    return plays, read_jsonl("nfl_2018_week1_schedule.jsonl") + nba_games


def produce(bootstrap: str, topic: str, path: Path, count: int, timeout: float, schema: str | None = None) -> None:
    args = ["produce", topic, str(path)] + (["--schema", schema] if schema else [])
    with WirereportProcess(args, bootstrap=bootstrap) as producer:
        producer.wait_for_output(f"produced {count} record(s) to {topic}; 0 invalid line(s)", timeout=timeout)


def tweet_commands(bootstrap: str) -> dict[str, dict]:
    return {r["command_id"]: r for _, r in consume_records(bootstrap, "tweet-commands", timeout=1.0)}


def last_plays_decided(bootstrap: str) -> dict[str, str]:
    """game id -> the play id of its latest game state."""
    return {r["game_id"]: r["last_play_id"] for _, r in consume_records(bootstrap, "game-state", timeout=1.0)}


def stored_schedule(bootstrap: str) -> int:
    return sum(1 for _ in consume_raw(bootstrap, f"{APP_ID}-schedule-changelog", timeout=1.0))


def by_account(commands) -> dict[str, dict[str, str]]:
    """account -> {command id: text}"""
    accounts: dict[str, dict[str, str]] = {}
    for command in commands:
        accounts.setdefault(command["account"], {})[command["command_id"]] = command["text"]
    return accounts


def test_a_mixed_day_through_the_pipeline_equals_the_backtest(mixed_day, tmp_path):
    plays, schedule = mixed_day
    decisions = backtest([from_json("Play", p) for p in plays], [from_json("ScheduledGame", g) for g in schedule])
    expected = by_account(d["command"] for d in decisions if d["tweet"])
    assert set(expected) == {"NFL", "NBA"}  # both accounts tweet on the mixed day
    assert all(1 <= len(tweets) <= 17 for tweets in expected.values())
    last_plays = {p["game_id"]: p["play_id"] for p in plays}

    deadline = time.monotonic() + BOUND_SECONDS

    def left() -> float:
        return max(deadline - time.monotonic(), 0.0)

    env = {"WIREREPORT_APP_ID": APP_ID, "WIREREPORT_DATA_DIR": str(tmp_path)}
    with running_broker() as bootstrap, WirereportProcess(["worker"], bootstrap=bootstrap, env=env) as worker:
        worker.wait_for_output("worker ready", timeout=left())
        schedule_file = write_jsonl(tmp_path / "schedule.jsonl", schedule)
        produce(bootstrap, "league-events", schedule_file, len(schedule), left(), schema="ScheduledGame")
        # the schedule is known before the first kickoff, as in production
        wait_until(lambda: stored_schedule(bootstrap) >= len(schedule), timeout=left(), message="schedule not stored")
        produce(bootstrap, "plays", write_jsonl(tmp_path / "plays.jsonl", plays), len(plays), left())
        # a league's plays are decided in order, so once every game's last play is decided the day is done (and the
        # tweet commands went out with the game states of their batch)
        wait_until(
            lambda: last_plays_decided(bootstrap) == last_plays,
            timeout=left(),
            message=lambda: f"not every play decided; worker said:\n{worker.output[-2000:]}",
        )
        commands = tweet_commands(bootstrap)

    assert by_account(commands.values()) == expected
