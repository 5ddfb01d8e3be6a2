"""A bounded scan of a topic: every partition from the beginning to its end as measured when the scan starts.

Used to replay what really came in (``wirereport backtest plays|scaling --from-topic``). The order of the
records is the broker's: within a partition the offset order (the produce order); across partitions a merge by
(record timestamp, partition, offset) that keeps each partition's own order. The record timestamp is the Kafka
record timestamp: the producer's create time unless the topic is configured with ``LogAppendTime``.

The end of a partition is its high watermark when the scan starts. The embedded broker (Tansu) may report the
last batch's base offset + 1 instead, and its ``offsets_for_times`` answers 0, so the scan starts at the
beginning and, past that watermark, still takes the rest of the last batch: records at or past it are kept
while their timestamp is not later than the scan's start (what is produced during the scan is left out).
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, TIMESTAMP_NOT_AVAILABLE, KafkaError, KafkaException, TopicPartition

from connectors.exceptions import BrokerUnavailable
from connectors.kafka.edge import new_consumer, partitions_of
from schemas.codec import get_codec
from schemas.exceptions import SchemaError
from streams.topics import topic

Progress = Callable[[int, int], None]  # (records read so far, records to read as the watermarks promise)


@dataclass(frozen=True)
class TopicRecord:
    """One message as the broker holds it (value still encoded)."""

    partition: int
    offset: int
    timestamp_ms: int | None  # the Kafka record timestamp; None if the broker gave none
    key: bytes | None
    value: bytes | None

    @property
    def origin(self) -> str:
        return f"partition {self.partition} offset {self.offset}"


def merge_partitions(partitions: Iterable[list[TopicRecord]]) -> Iterator[TopicRecord]:
    """Records of all partitions by (timestamp, partition, offset), each partition's own order kept as is.

    ``heapq.merge`` never reorders one input, so a partition whose timestamps go back (several producers with
    their own clocks) still comes out in offset order.
    """
    return heapq.merge(*partitions, key=lambda r: (r.timestamp_ms or 0, r.partition, r.offset))


def in_window(record: TopicRecord, since_ms: int | None, until_ms: int | None) -> bool:
    """``since <= timestamp < until``; a record without a timestamp is only in an open window."""
    if since_ms is None and until_ms is None:
        return True
    if record.timestamp_ms is None:
        return False
    return (since_ms is None or record.timestamp_ms >= since_ms) and (
        until_ms is None or record.timestamp_ms < until_ms
    )


def read_topic(
    bootstrap: str,
    topic_name: str,
    *,
    since_ms: int | None = None,
    until_ms: int | None = None,
    progress: Progress | None = None,
    idle_seconds: float = 0.5,
    stall_seconds: float = 30.0,
    progress_every: float = 2.0,
) -> list[TopicRecord]:
    """The records of ``topic_name`` up to the end measured now, merged across partitions, in the time window.

    ``progress`` is called every ``progress_every`` seconds of a longer scan. A missing topic or an unreachable
    broker is a ``BrokerUnavailable`` with a one-line reason; so is a partition that stops short of its end for
    ``stall_seconds``.
    """
    consumer = new_consumer(bootstrap, **{"enable.partition.eof": False})
    try:
        partitions = partitions_of(consumer, bootstrap, topic_name)
        started_ms = int(time.time() * 1000)
        ends = {}
        for p in partitions:
            try:
                low, high = consumer.get_watermark_offsets(TopicPartition(topic_name, p), timeout=10, cached=False)
            except KafkaException as exc:
                raise BrokerUnavailable(
                    f"cannot read the end of {topic_name}[{p}] on {bootstrap}: {exc.args[0]}"
                ) from None
            if high > low:
                ends[p] = high
        scan = _Scan(topic_name, ends, started_ms)
        if ends:
            consumer.assign([TopicPartition(topic_name, p, OFFSET_BEGINNING) for p in sorted(ends)])
        scan.run(consumer, progress, idle_seconds, stall_seconds, progress_every)
    finally:
        consumer.close()
    merged = merge_partitions(scan.records[p] for p in sorted(scan.records))
    return [r for r in merged if in_window(r, since_ms, until_ms)]


class _Scan:
    """The state of a bounded scan: records per partition, and which partitions are read to their end."""

    def __init__(self, topic_name: str, ends: dict[int, int], started_ms: int):
        self.topic_name = topic_name
        self.ends = ends
        self.started_ms = started_ms
        self.records: dict[int, list[TopicRecord]] = {p: [] for p in ends}
        self.open = set(ends)  # partitions that may still hold records of the scan
        self.reached: set[int] = set()  # partitions read up to their measured end (the last batch may follow)
        self.count = 0

    def run(self, consumer, progress: Progress | None, idle: float, stall: float, every: float) -> None:
        total = sum(self.ends.values())
        started = last_record = last_report = time.monotonic()
        while self.open:
            messages = consumer.consume(1000, timeout=idle)
            now = time.monotonic()
            if progress and now - started >= every and now - last_report >= every:
                progress(self.count, total)
                last_report = now
            if messages:
                last_record = now
                self.add(consumer, messages)
            elif self.open <= self.reached:  # at every end, and no more of a last batch came in an idle wait
                return
            elif now - last_record > stall:
                short = ", ".join(str(p) for p in sorted(self.open - self.reached))
                raise BrokerUnavailable(
                    f"reading {self.topic_name}: partition(s) {short} gave nothing for {stall:.0f}s before their end"
                )

    def add(self, consumer, messages: list[Any]) -> None:
        for msg in messages:
            error = msg.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    continue
                raise BrokerUnavailable(f"reading {self.topic_name}: {error.str()}")
            p, offset = msg.partition(), msg.offset()
            if p not in self.open:
                continue
            kind, ts = msg.timestamp()
            ts = None if kind == TIMESTAMP_NOT_AVAILABLE else ts
            if offset >= self.ends[p] and (ts is None or ts > self.started_ms):  # produced after the scan began
                self.open.discard(p)
                consumer.pause([TopicPartition(self.topic_name, p)])
                continue
            self.records[p].append(TopicRecord(p, offset, ts, msg.key(), msg.value()))
            self.count += 1
            if offset >= self.ends[p] - 1:
                self.reached.add(p)


def decode_records(
    records: Iterable[TopicRecord], topic_name: str, bad: list[str], schemas: Iterable[str] | None = None
) -> list[tuple[TopicRecord, str, dict[str, Any]]]:
    """``(message, schema name, record)`` of each message decoded with the topic's Avro schemas, kept only if its
    schema is in ``schemas`` (default: all of the topic's); an undecodable one is described in ``bad``."""
    codec = get_codec()
    allowed = topic(topic_name).value_schemas
    wanted = set(allowed if schemas is None else schemas)
    out = []
    for record in records:
        try:
            name, value = codec.decode(record.value, allowed)
        except SchemaError as exc:
            bad.append(f"{topic_name} {record.origin}: {exc}")
            continue
        if name in wanted:
            out.append((record, name, value))
    return out
