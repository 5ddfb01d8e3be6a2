"""Three workers of one app while a real NFL Sunday and a real NBA night are replayed, one of them SIGKILLed every
20 s and started again: the tweet commands equal the backtest's by command id, the publisher posts each once, and
every game ends in the state of its last play."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter

from connectors.kafka.edge import EdgeProducer, consume_records
from connectors.testing import WirereportProcess, running_broker, wait_until
from streams.games.backtest import run as backtest
from tests.e2e.test_plays_pipeline import load

REPLAY_SECONDS = 60.0
KILL_EVERY = 20.0
WORKERS = 3


def records(bootstrap: str, name: str) -> list[dict]:
    return [r for _, r in consume_records(bootstrap, name, timeout=1.0)]


def start_worker(bootstrap: str, env: dict, name: str, tmp_path) -> WirereportProcess:
    return WirereportProcess(["worker"], bootstrap=bootstrap, env={**env, "WIREREPORT_DATA_DIR": str(tmp_path / name)})


def interleaved(*days: list[dict]) -> list[dict]:
    """The days' plays taken in turn (each day in its own order), as two leagues' feeds arrive together."""
    out, rest = [], [list(day) for day in days]
    while any(rest):
        for day in rest:
            if day:
                out.append(day.pop(0))
    return out


def replay(bootstrap: str, plays: list[dict], seconds: float, done: threading.Event) -> None:
    with EdgeProducer(bootstrap) as producer:
        started = time.monotonic()
        for i, play in enumerate(plays):
            delay = started + i * seconds / len(plays) - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            producer.send("plays", play)
    done.set()


def test_three_workers_lose_one_every_20_seconds_and_decide_as_the_backtest(tmp_path):
    nfl, nba = load("nfl_2018_week1_sunday.jsonl.gz", "Play"), load("nba_0020901030.jsonl", "Play")
    schedule = load("nfl_2018_week1_schedule.jsonl", "ScheduledGame") + load(
        "nba_0020901030_schedule.jsonl", "ScheduledGame"
    )
    expected = {
        d["command"]["command_id"]: d["command"]
        for day in (nfl, nba)
        for d in backtest(day, schedule, budget=17)
        if d["tweet"]
    }
    assert {c["league"] for c in expected.values()} == {"NFL", "NBA"}
    env = {"WIREREPORT_APP_ID": "e2e-chaos", "WIREREPORT_LOG_LEVEL": "WARNING"}
    workers: list[WirereportProcess] = []
    with running_broker() as bootstrap:
        with EdgeProducer(bootstrap) as producer:
            for game in schedule:
                producer.send("league-events", game, schema="ScheduledGame")
        publisher = WirereportProcess(
            ["publisher"], bootstrap=bootstrap, env={**env, "WIREREPORT_DATA_DIR": str(tmp_path)}
        ).start()
        try:
            workers = [start_worker(bootstrap, env, f"w{i}", tmp_path).start() for i in range(WORKERS)]
            for worker in workers:
                worker.wait_for_output("worker ready", timeout=120)
            publisher.wait_for_output("tweet publisher ready", timeout=60)
            done = threading.Event()
            feed = threading.Thread(target=replay, args=(bootstrap, interleaved(nfl, nba), REPLAY_SECONDS, done))
            feed.start()
            kills = 0
            while not done.wait(KILL_EVERY):
                victim = kills % WORKERS
                workers[victim].kill()  # no shutdown, no commit
                kills += 1
                workers[victim] = start_worker(bootstrap, env, f"w{victim}-{kills}", tmp_path).start()
            feed.join()
            assert kills >= 2

            def commands_done():
                return {c["command_id"] for c in records(bootstrap, "tweet-commands")} >= set(expected)

            wait_until(commands_done, timeout=120, message=lambda: "\n".join(w.output[-1500:] for w in workers))
            posted_path = tmp_path / "tweets-dryrun.jsonl"
            wait_until(
                lambda: (
                    posted_path.exists() and {json.loads(x)["command_id"] for x in posted_path.open()} >= set(expected)
                ),
                timeout=60,
                message=lambda: publisher.output[-2000:],
            )
            time.sleep(2.0)  # anything the restarts would send twice has been sent
            commands = records(bootstrap, "tweet-commands")
            states = records(bootstrap, "game-state")
            posted = [json.loads(line) for line in posted_path.read_text().splitlines()]
        finally:
            for worker in workers:
                worker.stop()
            publisher.stop()

    by_id = {c["command_id"]: c for c in commands}
    assert set(by_id) == set(expected), "the live decisions differ from the backtest's"
    assert all(by_id[k]["text"] == expected[k]["text"] for k in expected)
    counts = Counter(p["command_id"] for p in posted)
    assert set(counts) == set(expected) and max(counts.values()) == 1, "a tweet was posted twice"
    final = {}
    for state in states:
        final[state["game_id"]] = state  # the latest record of each game
    for game_id, last in {p["game_id"]: p for p in nfl + nba}.items():
        state = final[game_id]
        assert (state["home_score"], state["away_score"], state["last_play_id"]) == (
            last["home_score"],
            last["away_score"],
            last["play_id"],
        ), game_id
