"""Completes a table's recovery by reading its changelog to the true end.

The embedded broker (Tansu) can answer ListOffsets(latest) with the last batch's base offset + 1, so Faust's
recovery stops short and misses the newest records of the last batch. After Faust reports recovery complete
(and before the agents resume), this reads the table's active changelog partitions from the start until the
broker has nothing more to give and applies every record, so the table holds exactly what was written.
"""

from __future__ import annotations

import logging
import time

import faust
from aiokafka import AIOKafkaConsumer, TopicPartition
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

log = logging.getLogger(__name__)

IDLE_POLLS = 3
POLL_MS = 150


def install_catchup(app: faust.App, table: faust.Table, source_topic: str) -> None:
    """Register the catch-up as a recovery callback of ``table`` (partitions follow ``source_topic``)."""

    @table.on_recover
    async def catch_up() -> None:
        partitions = sorted(tp.partition for tp in app.assignor.assigned_actives() if tp.topic == source_topic)
        if not partitions:
            return
        try:
            await read_changelog_to_end(app, table, partitions)
        except Exception as exc:  # a table we cannot trust must stop the worker, not run stale
            log.exception("table %s: changelog catch-up failed", table.name)
            await app.crash(exc)


async def read_changelog_to_end(app: faust.App, table: faust.Table, partitions: list[int]) -> int:
    """Apply every record of the given changelog partitions to ``table.data``; return how many were read."""
    started = time.monotonic()
    changelog = table.changelog_topic.get_topic_name()
    consumer = AIOKafkaConsumer(
        bootstrap_servers=[f"{url.host}:{url.port}" for url in app.conf.broker],
        enable_auto_commit=False,
        group_id=None,
        auto_offset_reset="earliest",
        **credentials_to_aiokafka_auth(app.conf.broker_credentials),  # the worker's own TLS/SASL
    )
    await consumer.start()
    applied = 0
    try:
        tps = [TopicPartition(changelog, p) for p in partitions]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        idle = 0
        key_codec = table.key_serializer
        value_codec = table.value_serializer
        while idle < IDLE_POLLS:
            batches = await consumer.getmany(timeout_ms=POLL_MS, max_records=10_000)
            if not any(batches.values()):
                idle += 1
                continue
            idle = 0
            for records in batches.values():
                for record in records:
                    key = key_codec.loads(record.key)
                    if record.value is None:
                        table.data.pop(key, None)
                    else:
                        table.data[key] = value_codec.loads(record.value)
                    applied += 1
    finally:
        await consumer.stop()
    log.info(
        "table %s: read %d changelog record(s) of partitions %s to the end in %.2fs",
        table.name,
        applied,
        partitions,
        time.monotonic() - started,
    )
    return applied
