"""Poison records produced raw (no edge validation) among the real NFL Sunday: the running worker dead-letters each
with its reason and sends the same tweet commands as the backtest of the Sunday without them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from connectors.kafka.edge import EdgeProducer, consume_records
from connectors.testing import WirereportProcess, running_broker, wait_until
from schemas.codec import get_codec
from schemas.json_form import from_json
from streams.games.backtest import run as backtest
from streams.topics import topic
from tests.unit.streams.games.poison import poisoned_sunday, schedule_lines, sunday_lines

PLAYS = topic("plays")


def records(bootstrap: str, name: str) -> list[dict]:
    return [r for _, r in consume_records(bootstrap, name, timeout=1.0)]


def test_poison_records_are_dead_lettered_and_the_tweets_equal_the_clean_backtest(tmp_path):
    plays, reasons = poisoned_sunday()
    schedule = [from_json("ScheduledGame", game) for game in schedule_lines()]
    clean = [from_json("Play", play) for play in sunday_lines()]
    expected = {d["command"]["command_id"]: d["command"] for d in backtest(clean, schedule, budget=17) if d["tweet"]}
    codec = get_codec()
    env = {"WIREREPORT_APP_ID": "e2e-poison", "WIREREPORT_DATA_DIR": str(tmp_path)}
    started = time.monotonic()
    with running_broker() as bootstrap:
        with EdgeProducer(bootstrap) as producer:
            for game in schedule:
                producer.send("league-events", game, schema="ScheduledGame")
        with WirereportProcess(["worker"], bootstrap=bootstrap, env=env) as worker:
            worker.wait_for_output("worker ready", timeout=60)
            # raw values, as a broken or hostile producer would send them (wirereport produce would refuse them)
            with EdgeProducer(bootstrap, **{"message.max.bytes": 16 * 1024 * 1024}) as raw:
                for play in plays:
                    record = from_json("Play", play)
                    value = codec.encode("Play", record)
                    raw.send_raw(PLAYS, PLAYS.key_of(record).encode(), value, PLAYS.partition_of(record))
            wait_until(
                lambda: (
                    len(records(bootstrap, "dead-letters")) >= len(reasons)
                    and {c["command_id"] for c in records(bootstrap, "tweet-commands")} >= set(expected)
                ),
                timeout=60,
                message=lambda: f"worker said:\n{worker.output[-3000:]}",
            )
            commands = records(bootstrap, "tweet-commands")
            letters = records(bootstrap, "dead-letters")
    assert time.monotonic() - started < 90
    assert {c["command_id"] for c in commands} == set(expected)
    assert len(letters) == len(reasons)
    found = sorted(letter["reason"] for letter in letters)
    for reason in reasons.values():
        assert any(reason in text for text in found), (reason, found)


def test_produce_reports_the_bad_lines_and_produces_every_valid_one_even_after_a_line_over_a_megabyte(tmp_path):
    good = sunday_lines()[:2]
    lines = [
        good[0],
        {**good[0], "play_id": "year-one", "occurred_at": "0001-01-01T00:00:00Z"},
        {**good[0], "play_id": "huge", "description": "x" * (1024 * 1024 + 1)},
        good[1],
    ]
    path = tmp_path / "plays.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    schedule = tmp_path / "schedule.jsonl"
    schedule.write_text(json.dumps({**schedule_lines()[0], "scheduled_start": "0001-01-01T00:00:00Z"}) + "\n")
    with running_broker() as bootstrap:
        env = {**os.environ, "WIREREPORT_KAFKA_BOOTSTRAP": bootstrap}

        def produce(*args: str) -> subprocess.CompletedProcess:
            command = [sys.executable, "-m", "connectors.cli.main", "produce", *args]
            return subprocess.run(command, capture_output=True, text=True, timeout=60, env=env)

        result = produce("plays", str(path))
        late = produce("league-events", str(schedule), "--schema", "ScheduledGame")
        sent = [r["play_id"] for _, r in consume_records(bootstrap, "plays", timeout=1.0)]
        events = [r for _, r in consume_records(bootstrap, "league-events", timeout=1.0)]
    assert result.returncode == 3, result.stderr
    assert sent == [good[0]["play_id"], good[1]["play_id"]]
    assert f"{path}:2: invalid play: occurred_at 0001-01-01 00:00:00+00:00 is not within" in result.stderr
    assert f"{path}:3: invalid play: description of 1048577 characters is over 2000" in result.stderr
    assert "produced 2 record(s) to plays; 2 invalid line(s)" in result.stderr
    assert "Traceback" not in result.stderr and "unexpected" not in result.stderr
    assert late.returncode == 3 and events == []
    assert f"{schedule}:1: invalid scheduled game: scheduled_start 0001-01-01" in late.stderr
