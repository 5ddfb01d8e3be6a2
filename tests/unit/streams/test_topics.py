"""Topic contracts: keys, partitions, compaction."""

from __future__ import annotations

import pytest

from streams.exceptions import StreamsError
from streams.topics import TOPICS, topic


def test_plays_of_one_league_share_a_partition_whatever_the_game():
    spec = topic("plays")
    partitions = {spec.partition_of({"league": "NFL", "game_id": g}) for g in ("a", "b", "c", "d", "e")}
    assert len(partitions) == 1
    assert spec.key_of({"league": "NFL", "game_id": "2018090905"}) == "2018090905"


def test_state_topics_are_compacted_and_inputs_are_not():
    assert topic("game-state").compacted
    assert not topic("plays").compacted
    assert all(TOPICS[name].compacted for name in ("tweet-budgets", "server-health", "deployment-state"))


def test_unknown_topic_names_the_known_ones():
    with pytest.raises(StreamsError, match=r"known topics: .*plays"):
        topic("play")
