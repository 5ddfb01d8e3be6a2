"""The worker's consumer fetches no stream partition while the app rebalances (only what recovery reads).

Records of a stream partition fetched between Faust's seek to the committed offsets and the end of recovery
would be cleared from the stream buffers unprocessed, and never fetched again (the crash e2e test saw the
restarted worker sit idle on that gap).
"""

from __future__ import annotations

from faust.types import TP

from streams.app import create_app
from streams.runtime.kafka_transport import REBALANCE_FETCH_TIMEOUT, FastDrainConsumer, RawTopicsConductor
from streams.settings import Settings


class RecordingThread:
    """Stands in for the consumer thread: records which partitions each fetch asked for."""

    def __init__(self) -> None:
        self.asked: list[tuple[set, float]] = []

    async def getmany(self, active_partitions, timeout):
        self.asked.append((set(active_partitions), timeout))
        return {}


async def test_only_changelog_partitions_are_fetched_while_rebalancing(tmp_path):
    app = create_app(Settings(kafka_bootstrap="127.0.0.1:9", app_id="unit-transport", data_dir=tmp_path))
    consumer = app.consumer
    assert isinstance(consumer, FastDrainConsumer)
    assert isinstance(app.topics, RawTopicsConductor)
    thread = consumer._thread = RecordingThread()
    plays = TP("plays", 0)
    changelog = TP(app.wirereport.tables["games"].changelog_topic.get_topic_name(), 0)

    app.rebalancing = True
    await consumer._getmany({plays, changelog}, 1.0)
    assert thread.asked == [({changelog}, REBALANCE_FETCH_TIMEOUT)]
    await consumer._getmany({plays}, 1.0)  # nothing recovery needs: no fetch (an empty set would fetch everything)
    assert len(thread.asked) == 1

    app.rebalancing = False
    await consumer._getmany({plays, changelog}, 1.0)
    assert thread.asked[-1] == ({plays, changelog}, 1.0)
