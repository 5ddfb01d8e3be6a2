"""The bounded scan's rules without a broker: merge order, time window, where a partition ends, decoding."""

from __future__ import annotations

import pytest
from confluent_kafka import TIMESTAMP_CREATE_TIME, TIMESTAMP_NOT_AVAILABLE, KafkaError

from connectors.exceptions import BrokerUnavailable
from connectors.kafka.topic_reader import TopicRecord, _Scan, decode_records, in_window, merge_partitions
from schemas.codec import get_codec
from schemas.json_form import from_json


def rec(partition: int, offset: int, ts: int | None, value: bytes | None = b"") -> TopicRecord:
    return TopicRecord(partition, offset, ts, None, value)


def test_partitions_merge_by_timestamp_then_partition_then_offset():
    p0 = [rec(0, 0, 100), rec(0, 1, 200), rec(0, 2, 200)]
    p1 = [rec(1, 0, 100), rec(1, 1, 150)]
    order = [(r.partition, r.offset) for r in merge_partitions([p0, p1])]
    assert order == [(0, 0), (1, 0), (1, 1), (0, 1), (0, 2)]


def test_a_partition_whose_timestamps_go_back_keeps_its_offset_order():
    p0 = [rec(0, 0, 300), rec(0, 1, 100)]  # two producers with their own clocks
    p1 = [rec(1, 0, 200)]
    order = [(r.partition, r.offset) for r in merge_partitions([p0, p1])]
    assert order == [(1, 0), (0, 0), (0, 1)]


def test_window_is_since_inclusive_until_exclusive():
    assert in_window(rec(0, 0, 1000), 1000, 2000)
    assert not in_window(rec(0, 0, 999), 1000, 2000)
    assert not in_window(rec(0, 0, 2000), 1000, 2000)
    assert in_window(rec(0, 0, 1999), None, 2000)
    assert in_window(rec(0, 0, 5), 1, None)


def test_a_record_without_timestamp_is_only_in_an_open_window():
    assert in_window(rec(0, 0, None), None, None)
    assert not in_window(rec(0, 0, None), 0, None)


class FakeMessage:
    def __init__(self, partition, offset, ts, error=None):
        self._p, self._o, self._ts, self._error = partition, offset, ts, error

    def error(self):
        return self._error

    def partition(self):
        return self._p

    def offset(self):
        return self._o

    def timestamp(self):
        return (TIMESTAMP_NOT_AVAILABLE, -1) if self._ts is None else (TIMESTAMP_CREATE_TIME, self._ts)

    def key(self):
        return None

    def value(self):
        return b"v"


class FakeConsumer:
    def __init__(self, batches):
        self.batches = list(batches)
        self.paused = []

    def consume(self, num_messages, timeout):
        return self.batches.pop(0) if self.batches else []

    def pause(self, partitions):
        self.paused.extend(tp.partition for tp in partitions)


STARTED = 10_000


def scan_of(ends, batches, stall=30.0):
    scan = _Scan("plays", ends, STARTED)
    consumer = FakeConsumer(batches)
    scan.run(consumer, None, idle=0.0, stall=stall, every=2.0)
    return scan, consumer


def test_the_rest_of_the_last_batch_past_the_reported_end_is_read():
    # the embedded broker reports the last batch's base offset + 1 (here 3) though offsets 3 and 4 exist
    batch = [FakeMessage(0, offset, STARTED - 5) for offset in range(5)]
    scan, _ = scan_of({0: 3}, [batch])
    assert [r.offset for r in scan.records[0]] == [0, 1, 2, 3, 4]


def test_records_produced_after_the_scan_began_are_left_out_and_the_partition_closes():
    batch = [FakeMessage(0, 0, STARTED - 5), FakeMessage(0, 1, STARTED + 1), FakeMessage(0, 2, STARTED - 5)]
    scan, consumer = scan_of({0: 1}, [batch])
    assert [r.offset for r in scan.records[0]] == [0]
    assert consumer.paused == [0]


def test_records_before_the_end_are_kept_whatever_their_timestamp():
    batch = [FakeMessage(0, 0, STARTED + 50), FakeMessage(0, 1, STARTED + 60)]
    scan, _ = scan_of({0: 2}, [batch])
    assert [r.offset for r in scan.records[0]] == [0, 1]


def test_the_scan_waits_for_every_partition_to_reach_its_end():
    early = [FakeMessage(0, 0, 1)]
    late = [FakeMessage(1, 0, 2), FakeMessage(1, 1, 3)]
    scan, _ = scan_of({0: 1, 1: 2}, [early, [], late])  # an empty poll before partition 1 came
    assert [r.offset for r in scan.records[1]] == [0, 1]


def test_a_partition_that_stops_short_of_its_end_is_a_clear_error():
    with pytest.raises(
        BrokerUnavailable, match=r"reading plays: partition\(s\) 0 gave nothing for 0s before their end"
    ):
        scan_of({0: 5}, [[FakeMessage(0, 0, 1)]], stall=0.0)


def test_a_broker_error_while_reading_is_a_clear_error():
    error = KafkaError(KafkaError._TRANSPORT)
    with pytest.raises(BrokerUnavailable, match="reading plays"):
        scan_of({0: 1}, [[FakeMessage(0, 0, 1, error=error)]])


def test_decoding_keeps_the_wanted_schemas_and_describes_the_undecodable():
    game = {
        "league": "NFL",
        "game_id": "g1",
        "home_team": "KC",
        "away_team": "LAC",
        "scheduled_start": "2018-09-09T17:00:00Z",
    }
    value = get_codec().encode("ScheduledGame", from_json("ScheduledGame", game))
    bad: list[str] = []
    out = decode_records([rec(0, 0, 1, value), rec(1, 7, 2, b"junk")], "league-events", bad, ["ScheduledGame"])
    assert [(r.offset, name, record["game_id"]) for r, name, record in out] == [(0, "ScheduledGame", "g1")]
    assert len(bad) == 1 and bad[0].startswith("league-events partition 1 offset 7: ")
    assert decode_records([rec(0, 0, 1, value)], "league-events", [], ["LeagueEvent"]) == []
