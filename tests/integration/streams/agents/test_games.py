"""Foundation acceptance on the real embedded broker: a real game, garbage, an impossible play, a restart."""

from __future__ import annotations

import gzip
import json

import pytest

from connectors.kafka.edge import EdgeProducer, consume_records
from connectors.testing import SAMPLE_DATA, WirereportProcess, running_broker, wait_until
from schemas.codec import get_codec
from schemas.json_form import from_json
from streams.topics import topic

SAMPLE = SAMPLE_DATA / "nfl_2018_week1_sunday.jsonl.gz"
GAME_ID = "2018090905"  # HOU @ NE, 2018 week 1


def real_game() -> list[dict]:
    with gzip.open(SAMPLE, "rt") as fh:
        plays = [json.loads(line) for line in fh]
    return [from_json("Play", p) for p in plays if p["game_id"] == GAME_ID]


def states_of(bootstrap: str, game_id: str) -> list[dict]:
    return [r for _, r in consume_records(bootstrap, "game-state", timeout=1.5) if r["game_id"] == game_id]


@pytest.fixture(scope="module")
def own_broker():
    """A broker of this module alone, so 'exactly two dead letters' means exactly."""
    with running_broker() as bootstrap:
        yield bootstrap


def test_real_game_with_bad_input_and_a_worker_restart(own_broker, tmp_path):
    plays = real_game()
    final = plays[-1]
    assert final["event_type"] == "game_end"
    impossible = {**plays[10], "play_id": "impossible", "sequence": 10_000, "home_score": -3}
    with EdgeProducer(own_broker) as producer:
        for record in plays[: len(plays) // 2]:
            producer.send("plays", record)
        producer.send_raw(topic("plays"), GAME_ID.encode(), b"\x00\x01not avro at all")
        producer.send_raw(topic("plays"), GAME_ID.encode(), get_codec().encode("Play", impossible))
        for record in plays[len(plays) // 2 :]:
            producer.send("plays", record)

    env = {"WIREREPORT_APP_ID": "it-games", "WIREREPORT_DATA_DIR": str(tmp_path)}
    with WirereportProcess(["worker"], bootstrap=own_broker, env=env) as worker:
        worker.wait_for_output("worker ready", timeout=60)
        last = wait_until(
            lambda: next((s for s in reversed(states_of(own_broker, GAME_ID)) if s["status"] == "final"), None),
            timeout=30,
            message="the game never reached its final state on game-state",
        )
    assert (last["home_team"], last["home_score"], last["away_team"], last["away_score"]) == ("NE", 27, "HOU", 20)
    assert last["plays_seen"] == len(plays)  # no valid play lost, none counted twice
    assert last["last_play_id"] == final["play_id"]

    letters = [r for _, r in consume_records(own_broker, "dead-letters", timeout=1.5)]
    assert len(letters) == 2
    by_reason = sorted(letters, key=lambda r: r["reason"])
    assert "home_score -3 is not 0-300" in by_reason[0]["reason"]
    assert "not an Avro single-object encoded message" in by_reason[1]["reason"]
    assert {r["source_topic"] for r in letters} == {"plays"}
    assert by_reason[1]["value"] == b"\x00\x01not avro at all"
    assert all(r["offset"] >= 0 and r["key"] == GAME_ID.encode() for r in letters)

    # Restart: the tables must come back with the same state. A redelivered old play changes nothing, and a new
    # play after the feed's game_end is refused by the recovered state ("after final"), as before the restart.
    extra = {**final, "play_id": "after-restart", "sequence": final["sequence"] + 1, "description": "postgame"}
    with EdgeProducer(own_broker) as producer:
        producer.send("plays", plays[5])
        producer.send("plays", extra)
    with WirereportProcess(["worker"], bootstrap=own_broker, env=env) as worker:
        worker.wait_for_output("worker ready", timeout=60)
        letters = wait_until(
            lambda: [r for _, r in consume_records(own_broker, "dead-letters", timeout=1.0)][2:],
            timeout=30,
            message=lambda: f"no dead letter after the restart; worker said:\n{worker.output[-3000:]}",
        )
    assert [letter["reason"].split(":")[0] for letter in letters] == ["after final"]
    after = states_of(own_broker, GAME_ID)[-1]
    assert (after["plays_seen"], after["last_play_id"]) == (len(plays), final["play_id"])
    assert (after["home_score"], after["away_score"], after["status"]) == (27, 20, "final")
