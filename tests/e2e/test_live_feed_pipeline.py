"""Acceptance of the live feed: real NFL games of 2018 week 1 served progressively by a local feed (plays revealed in
steps, 304s, a 500 burst, a malformed body, a corrected play), followed by a ``wirereport feed nfl`` process into
the embedded broker and decided by a ``wirereport worker``, give the tweet commands the backtest decides over the
final files; every play reaches ``plays`` once (the correction twice); the feed's circuit breaker opened and
closed again. The games follow one another on the Sunday, so revealing them one after the other is the order a
live day delivers their plays in, the order the backtest reads. And ``wirereport up --feed nfl`` runs the stack on
a local feed server replaying the recorded Sunday."""

from __future__ import annotations

import json
import signal
import sqlite3
import time
from collections import Counter
from pathlib import Path

import pytest

from connectors.kafka.broker import free_port
from connectors.kafka.edge import consume_raw, consume_records
from connectors.sources.feeds.nfl_gamecenter import NflGamecenterAdapter
from connectors.sources.feeds.positions import content_hash
from connectors.sources.feeds.schedule import load_feed_games
from connectors.sources.importers import nfl
from connectors.testing import WirereportProcess, running_broker, wait_until
from connectors.testing.feed_server import RecordedFeed, nfl_partial, serving_feed
from schemas.json_form import from_json, to_json
from streams.games.backtest import run as backtest

APP_ID = "e2e-live-feed"
BOUND_SECONDS = 115  # the whole live run, broker start to the last decision
# TB@NO at 1 pm (a 48-40 shootout), DAL@CAR at 4:25 pm, CHI@GB at night (Green Bay's comeback: the lead changes
# with 2:13 left and a fumble recovered with 0:58 left seals it); one game ends before the next kicks off
GAMES = ("2018090906", "2018090910", "2018090912")
STEP = 25  # plays revealed per step
CORRECTED = ("2018090906", "830")  # a tweeted touchdown whose description is corrected after review
REVIEW_NOTE = " The ruling on the field was confirmed after review."
FEED_ENV = {
    "WIREREPORT_FEED_STALE_AFTER_SECONDS": "600",  # the night game waits for the others unchanged
    "WIREREPORT_FEED_BACKOFF_INITIAL_SECONDS": "0.1",
    "WIREREPORT_FEED_BACKOFF_MAX_SECONDS": "0.4",
    # the breaker opens when its last 4 calls all failed (the burst, not the malformed body among successes)
    "WIREREPORT_BREAKER_FAILURE_RATE_THRESHOLD": "100",
    "WIREREPORT_FEED_BREAKER_SLIDING_WINDOW_SIZE": "4",
    "WIREREPORT_FEED_BREAKER_MINIMUM_NUMBER_OF_CALLS": "4",
    "WIREREPORT_FEED_BREAKER_WAIT_SECONDS": "1",
    "WIREREPORT_BREAKER_PERMITTED_CALLS_IN_HALF_OPEN_STATE": "2",
}


def confirm_after_review(document: dict) -> None:
    game_id, play_id = CORRECTED
    for drive in document[game_id]["drives"].values():
        if isinstance(drive, dict) and play_id in drive.get("plays", {}):
            drive["plays"][play_id]["desc"] += REVIEW_NOTE


def final_records(feed: RecordedFeed) -> list[dict]:
    """The importer's records of the final documents as served (the correction included), in time order."""
    infos = {g["eid"]: g for g in nfl.select_games(2018, 1) if g["eid"] in GAMES}
    per_game = [nfl.game_plays(infos[eid], feed.final_document(eid)[eid]) for eid in GAMES]
    return nfl.merge_by_time(per_game)


def settled(feed: RecordedFeed, game, revealed: int) -> list[str]:
    """The play ids the poller can send once ``revealed`` plays of the game are shown."""
    document = nfl_partial(feed.final_document(game.game_id), game.game_id, revealed)
    return [p["play_id"] for p in NflGamecenterAdapter().convert(json.dumps(document).encode(), game).plays]


def sent_count(data_dir: Path, game_id: str) -> int:
    """Plays of the game the feed process recorded as delivered."""
    path = data_dir / "feed-nfl.sqlite"
    if not path.exists():
        return 0
    with sqlite3.connect(path) as db:
        try:
            return db.execute("SELECT COUNT(*) FROM sent_plays WHERE game_id = ?", (game_id,)).fetchone()[0]
        except sqlite3.OperationalError:
            return 0


def records(bootstrap: str, topic_name: str) -> list[dict]:
    return [to_json(name, record) for name, record in consume_records(bootstrap, topic_name, timeout=1.0)]


def stored_schedule(bootstrap: str) -> int:
    return sum(1 for _ in consume_raw(bootstrap, f"{APP_ID}-schedule-changelog", timeout=1.0))


@pytest.fixture(scope="module")
def served():
    feed = RecordedFeed()
    for eid in GAMES:
        feed.add_nfl_game(eid)
    with serving_feed(feed) as base_url:
        feed.base_url = base_url
        yield feed


def test_a_live_feed_through_the_pipeline_tweets_what_the_backtest_decides(served, tmp_path):
    feed = served
    deadline = time.monotonic() + BOUND_SECONDS

    def left() -> float:
        return max(deadline - time.monotonic(), 1.0)

    games = load_feed_games("NFL", None, list(GAMES))
    recorded = final_records(feed)
    original = {(r["game_id"], r["play_id"]): r for r in recorded}
    env = {"WIREREPORT_APP_ID": APP_ID, "WIREREPORT_DATA_DIR": str(tmp_path)}
    feed_args = ["feed", "nfl", "--url-template", feed.base_url + "/{game_id}.json", "--games", ",".join(GAMES)]
    with (
        running_broker() as bootstrap,
        WirereportProcess(["worker"], bootstrap=bootstrap, env=env) as worker,
    ):
        worker.wait_for_output("worker ready", timeout=left())
        with WirereportProcess(
            [*feed_args, "--interval", "0.05"], bootstrap=bootstrap, env={**env, **FEED_ENV}
        ) as poller:
            # the feed announces the games it follows at start: the day is known before the first kickoff
            wait_until(lambda: stored_schedule(bootstrap) >= len(GAMES), timeout=left(), message="no schedule")
            correction_sent = False
            for game in games:
                for revealed in range(STEP, feed.total(game.game_id) + STEP, STEP):
                    if game.game_id == GAMES[0] and revealed == 3 * STEP:
                        feed.malformed_next()
                    if game.game_id == GAMES[1] and revealed == 2 * STEP:
                        feed.fail_next(4)  # a burst: the breaker opens, stops the polls, probes and closes
                    feed.reveal(game.game_id, revealed)
                    released = settled(feed, game, revealed)
                    wait_until(
                        lambda g=game.game_id, n=len(released): sent_count(tmp_path, g) >= n,
                        timeout=left(),
                        message=lambda: f"the feed did not deliver; it said:\n{poller.output[-2000:]}",
                    )
                    if (game.game_id, CORRECTED[1]) == CORRECTED and CORRECTED[1] in released and not correction_sent:
                        # the touchdown is tweeted; then the feed corrects its description
                        wait_until(
                            lambda: any(
                                (c["game_id"], c["play_id"]) == CORRECTED for c in records(bootstrap, "tweet-commands")
                            ),
                            timeout=left(),
                            message=lambda: f"the touchdown was not tweeted; worker said:\n{worker.output[-2000:]}",
                        )
                        feed.correct(game.game_id, confirm_after_review)
                        correction_sent = True
            # every game final: the feed process is done and exits
            wait_until(lambda: poller.process.poll() is not None, timeout=left(), message=lambda: poller.output)
        last_plays = {r["game_id"]: r["play_id"] for r in recorded}
        wait_until(
            lambda: {r["game_id"]: r["last_play_id"] for r in records(bootstrap, "game-state")} == last_plays,
            timeout=left(),
            message=lambda: f"not every play decided; worker said:\n{worker.output[-2000:]}",
        )
        commands = records(bootstrap, "tweet-commands")
        plays = records(bootstrap, "plays")
        breaker_changes = [
            (r["previous_state"], r["state"]) for r in records(bootstrap, "breaker-state") if r["breaker"] == "feed-nfl"
        ]
        game_states = {r["game_id"]: r for r in records(bootstrap, "game-state")}
        poller_output = poller.output

    # the plays: each once and in the backtest's order, but the corrected one, sent again with its new content
    corrected = [p for p in plays if (p["game_id"], p["play_id"]) == CORRECTED]
    assert len(corrected) == 2 and corrected[0] == original[CORRECTED]
    assert corrected[1] == {**original[CORRECTED], "description": original[CORRECTED]["description"] + REVIEW_NOTE}
    assert [p for p in plays if p is not corrected[1]] == [original[(r["game_id"], r["play_id"])] for r in recorded]
    assert Counter(content_hash(p) for p in plays).most_common(1)[0][1] == 1
    assert poller.process.returncode == 0 and "(1 corrections)" in poller_output
    assert f"NFL {CORRECTED[0]} TB@NO: 1 corrected play(s) sent again ({CORRECTED[1]})" in poller_output

    # the tweets: the backtest's decisions over the final files (the correction included, the schedule known)
    schedule = [game.scheduled_game() for game in games]
    final = [corrected[1] if (r["game_id"], r["play_id"]) == CORRECTED else r for r in recorded]
    decisions = backtest([from_json("Play", p) for p in final], [from_json("ScheduledGame", g) for g in schedule])
    expected = {d["command"]["command_id"]: d["command"] for d in decisions if d["tweet"]}
    assert any(c["play_id"] == "3584" for c in expected.values())  # the late lead change of the night game
    assert {c["command_id"]: (c["play_id"], c["text"]) for c in commands} == {
        k: (c["play_id"], c["text"]) for k, c in expected.items()
    }
    assert len(commands) == len(expected)  # the correction of a tweeted touchdown tweets nothing again
    assert (game_states[GAMES[0]]["home_score"], game_states[GAMES[0]]["away_score"]) == (40, 48)

    # the feed's conditions: 304s, the malformed body and the burst, the breaker opened and closed
    statuses = Counter(feed.statuses())
    assert statuses[304] > 0 and statuses[500] == 4
    assert breaker_changes == [("CLOSED", "OPEN"), ("OPEN", "HALF_OPEN"), ("HALF_OPEN", "CLOSED")]
    assert "malformed document" in poller_output


def test_up_with_a_local_feed_shows_live_game_state(tmp_path):
    env = {
        "WIREREPORT_BROKER_PORT": str(free_port()),
        "WIREREPORT_DATA_DIR": str(tmp_path),
        "WIREREPORT_FEED_BACKOFF_MAX_SECONDS": "2",
    }
    up = WirereportProcess(["up", "--feed", "nfl", "--speed", "2000", "--no-api", "--no-scaling"], env=env).start()
    try:
        up.wait_for_output("worker ready", timeout=90)
        up.wait_for_output("[feed-server]", timeout=30)
        wait_until(lambda: up.output.count("[game-state]") >= 10, timeout=60, message=lambda: up.output[-2000:])
    finally:
        up.signal(signal.SIGINT)
        up.process.wait(60)
    assert up.process.returncode == 0, up.output[-2000:]
    assert "following a live feed of 13 recorded NFL games" in up.output
    assert "[replay]" not in up.output  # the feed, not the file replay, gave the plays
    assert (tmp_path / "up-feed" / "feed-nfl.sqlite").exists()
