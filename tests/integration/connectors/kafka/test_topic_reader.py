"""The bounded scan against the embedded broker: every batch read, partitions merged, an end that holds."""

from __future__ import annotations

from connectors.kafka.edge import EdgeProducer
from connectors.kafka.topic_reader import read_topic
from connectors.testing import running_broker


def test_every_record_of_every_batch_is_read_in_produce_order_per_partition():
    with running_broker() as bootstrap:
        for batch in range(3):  # three flushes: the broker's reported end is the last batch's first offset + 1
            with EdgeProducer(bootstrap) as producer:
                for i in range(4):
                    producer.send_raw("plays", b"k", f"{batch}-{i}".encode(), partition=batch % 2)
        records = read_topic(bootstrap, "plays")
        again = read_topic(bootstrap, "plays")
    by_partition = {p: [r.value.decode() for r in records if r.partition == p] for p in (0, 1)}
    assert by_partition == {0: [f"{b}-{i}" for b in (0, 2) for i in range(4)], 1: [f"1-{i}" for i in range(4)]}
    keys = [(r.timestamp_ms, r.partition, r.offset) for r in records]
    assert keys == sorted(keys)
    assert [(r.partition, r.offset) for r in again] == [(r.partition, r.offset) for r in records]


def test_the_time_window_is_on_the_record_timestamp():
    with running_broker() as bootstrap:
        with EdgeProducer(bootstrap) as producer:
            producer.send_raw("plays", b"k", b"first", partition=0)
        with EdgeProducer(bootstrap) as producer:
            producer.send_raw("plays", b"k", b"second", partition=0)
        first, second = read_topic(bootstrap, "plays")
        window = [
            read_topic(bootstrap, "plays", since_ms=first.timestamp_ms, until_ms=second.timestamp_ms + 1),
            read_topic(bootstrap, "plays", since_ms=first.timestamp_ms + 1),
            read_topic(bootstrap, "plays", until_ms=second.timestamp_ms),
        ]
    both, after_first, before_second = ([r.value for r in records] for records in window)
    assert both == [b"first", b"second"]
    assert b"first" not in after_first and b"second" not in before_second
