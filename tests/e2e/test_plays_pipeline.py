"""A real NFL Sunday through the running pipeline equals the backtest, across a SIGKILL of the worker."""

from __future__ import annotations

import gzip
import json
import time

import pytest

from connectors.kafka.edge import EdgeProducer, consume_records
from connectors.testing import SAMPLE_DATA, WirereportProcess, running_broker, wait_until
from schemas.json_form import from_json
from streams.games.backtest import run as backtest

SAMPLE = SAMPLE_DATA


def load(name: str, schema: str) -> list[dict]:
    path = SAMPLE / name
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as fh:
        return [from_json(schema, json.loads(line)) for line in fh if line.strip()]


def tweet_commands(bootstrap: str) -> list[dict]:
    return [r for _, r in consume_records(bootstrap, "tweet-commands", timeout=1.0)]


def _difference(expected: dict, commands: list[dict], output: str) -> str:
    got = {c["command_id"]: c for c in commands}
    missing = [expected[k]["text"] for k in expected.keys() - got.keys()]
    extra = [got[k]["text"] for k in got.keys() - expected.keys()]
    return f"live differs from the backtest; missing {missing}; extra {extra}; worker said:\n{output[-2000:]}"


@pytest.fixture(scope="module")
def day():
    plays = load("nfl_2018_week1_sunday.jsonl.gz", "Play")
    schedule = load("nfl_2018_week1_schedule.jsonl", "ScheduledGame")
    expected = {d["command"]["command_id"]: d["command"] for d in backtest(plays, schedule, budget=17) if d["tweet"]}
    return plays, schedule, expected


def test_pipeline_equals_backtest_across_a_worker_crash(day, tmp_path):
    plays, schedule, expected = day
    assert 5 <= len(expected) <= 17
    env = {"WIREREPORT_APP_ID": "e2e-plays", "WIREREPORT_DATA_DIR": str(tmp_path)}
    with running_broker() as bootstrap:
        with EdgeProducer(bootstrap) as producer:
            for game in schedule:
                producer.send("league-events", game, schema="ScheduledGame")
        worker = WirereportProcess(["worker"], bootstrap=bootstrap, env=env).start()
        worker.wait_for_output("worker ready", timeout=90)
        time.sleep(2.0)  # the schedule is known before the first kickoff, as in production
        cut = int(len(plays) * 0.6)
        with EdgeProducer(bootstrap) as producer:
            for play in plays[:cut]:
                producer.send("plays", play)
        wait_until(lambda: len(tweet_commands(bootstrap)) >= 1, timeout=60, message="no tweet before the crash")
        with EdgeProducer(bootstrap) as producer:
            for play in plays[cut:]:
                producer.send("plays", play)
        worker.kill()  # SIGKILL mid-day: no shutdown, no final commit
        before_restart = {c["command_id"] for c in tweet_commands(bootstrap)}

        with WirereportProcess(["worker"], bootstrap=bootstrap, env=env) as worker:
            worker.wait_for_output("worker ready", timeout=90)
            wait_until(
                lambda: {c["command_id"] for c in tweet_commands(bootstrap)} >= set(expected),
                timeout=90,
                message=lambda: _difference(expected, tweet_commands(bootstrap), worker.output),
            )
            time.sleep(1.0)
            commands = tweet_commands(bootstrap)

    by_id = {c["command_id"]: c for c in commands}
    assert set(by_id) == set(expected), "live decisions differ from the backtest's"
    for command_id, command in by_id.items():
        assert command["text"] == expected[command_id]["text"]
        assert command["play_id"] == expected[command_id]["play_id"]
    assert before_restart <= set(expected)
