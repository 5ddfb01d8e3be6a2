"""Has the broker lost what a process read? Positions checked against what the broker holds now.

The embedded broker keeps everything in memory: a restart (or topics deleted and re-created) leaves every
partition empty while the processes still hold positions in the old ones. A position is lost when it is
before the partition's start, or beyond its end while even the record just before it cannot be read (the
embedded broker may report a batch's base offset + 1 as the end, so the end alone does not prove a loss), or
on a partition that no longer exists. Processes run this when they open their consumers and, while they run,
every :data:`CHECK_SECONDS` (a process living through the outage must notice too, not only a restarted one).
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from confluent_kafka import KafkaError, KafkaException, TopicPartition

from connectors.kafka.edge import new_consumer

Positions = dict[tuple[str, int], int]
Lost = dict[tuple[str, int], tuple[int, int]]  # (topic, partition) -> (position held, end now)

CHECK_SECONDS = 10.0  # how often a running process compares its positions with the broker
_UNKNOWN_TOPIC_CODES = frozenset({KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError._UNKNOWN_TOPIC})
PROBE_SECONDS = 3.0  # how long to look for the record before a position that the broker's end denies


def lost_positions(
    consumer, bootstrap: str, positions: Positions, existing: Iterable[tuple[str, int]] | None = None
) -> Lost:
    """The ``positions`` (``(topic, partition) -> next offset``) the broker no longer has: ``-> (held, end)``.

    ``consumer`` is any confluent-kafka consumer of ``bootstrap`` (for the watermarks); ``existing`` the
    partitions known to exist (a position on another one is lost), or None to ask the broker. Raises
    ``KafkaException`` when the broker cannot tell now (unreachable, or the topics not re-created yet).
    """
    if existing is None:
        existing = _existing_partitions(consumer, {name for name, _ in positions})
    existing = set(existing)
    lost: Lost = {}
    for (name, partition), position in sorted(positions.items()):
        if position <= 0:
            continue
        if (name, partition) not in existing:
            lost[(name, partition)] = (position, 0)
            continue
        low, high = consumer.get_watermark_offsets(TopicPartition(name, partition), timeout=10, cached=False)
        if position < low or (position > high and not readable(bootstrap, name, partition, position - 1)):
            lost[(name, partition)] = (position, high)
    return lost


def describe(lost: Lost) -> str:
    """``topic[partition] at held (end now end)`` for each lost position, comma separated."""
    return ", ".join(f"{t}[{p}] at {held} (end now {end})" for (t, p), (held, end) in sorted(lost.items()))


def readable(bootstrap: str, name: str, partition: int, offset: int) -> bool:
    """Whether the broker gives a record at ``offset`` (or after it) of the partition."""
    probe = new_consumer(bootstrap, **{"enable.partition.eof": True, "auto.offset.reset": "error"})
    try:
        probe.assign([TopicPartition(name, partition, offset)])
        deadline = time.monotonic() + PROBE_SECONDS
        while time.monotonic() < deadline:
            for msg in probe.consume(1, 0.5):
                # an error is the end of the partition before the offset, or the offset out of range
                return msg.error() is None and msg.offset() >= offset
        return False
    finally:
        probe.close()


def _existing_partitions(consumer, names: set[str]) -> set[tuple[str, int]]:
    metadata = consumer.list_topics(timeout=10)
    found = set()
    for name in names:
        described = metadata.topics.get(name)
        if described is None or described.error is not None:
            if described is not None and described.error.code() not in _UNKNOWN_TOPIC_CODES:
                raise KafkaException(described.error)
            continue  # gone: its positions are lost
        found.update((name, p) for p in described.partitions)
    return found
