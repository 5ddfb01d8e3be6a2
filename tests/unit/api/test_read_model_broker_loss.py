"""The read model after the broker lost data it had read: not ready, saying why, until caught up again."""

from __future__ import annotations

from aiokafka import TopicPartition

from api.read_model import LOST_DATA_HOLD_SECONDS, ReadModel

GAMES = TopicPartition("game-state", 0)
TWEETS = TopicPartition("tweet-commands", 0)


def caught_up_model() -> ReadModel:
    rm = ReadModel("127.0.0.1:1")
    rm.status.broker_reachable = True
    rm._next = {GAMES: 40, TWEETS: 7}
    rm._initial_end = {GAMES: 40, TWEETS: 7}
    rm._check_caught_up()
    assert rm.readiness() == (True, "ok")
    return rm


def test_lost_partitions_make_it_not_ready_with_the_reason_until_it_caught_up_again():
    rm = caught_up_model()

    rm._lost([GAMES, TWEETS], "ending before what was read")
    ready, reason = rm.readiness()
    assert not ready
    assert reason.startswith("the broker lost data: 2 partition(s) ending before what was read")
    assert "(game-state, tweet-commands)" in reason
    assert rm.describe()["lost_data"] is not None

    # read again from the new beginning, up to the ends the broker has now
    rm._next = {GAMES: 0, TWEETS: 0}
    rm._initial_end = {GAMES: 3, TWEETS: 1}
    rm._check_caught_up()
    assert not rm.readiness()[0]
    rm._next = {GAMES: 3, TWEETS: 1}
    rm._check_caught_up()
    assert not rm.readiness()[0], "caught up at once: still not ready, long enough for probes to see it"
    rm.status.lost_at -= LOST_DATA_HOLD_SECONDS
    rm._check_caught_up()
    assert rm.readiness() == (True, "ok")
    assert rm.describe()["lost_data"] is None
