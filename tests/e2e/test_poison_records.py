"""Poison records produced raw (no edge validation) among the real NFL Sunday: the running worker dead-letters each
with its reason and sends the same tweet commands as the backtest of the Sunday without them."""

from __future__ import annotations

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
