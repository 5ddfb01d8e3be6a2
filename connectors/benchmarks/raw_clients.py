"""Raw Kafka client speed on the same broker, measured in the same run as the pipeline it is compared to."""

from __future__ import annotations

import asyncio
import time

from aiokafka import AIOKafkaConsumer, TopicPartition

from streams.runtime.kafka_security import aiokafka_security_kwargs
from streams.settings import get_settings


async def _aiokafka_consume(bootstrap: str, topic_name: str, count: int) -> float:
    security = aiokafka_security_kwargs(get_settings())
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None, **security)
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic_name) or set()
        if not partitions:
            await consumer._client.force_metadata_update()
            partitions = consumer.partitions_for_topic(topic_name) or set()
        tps = [TopicPartition(topic_name, p) for p in sorted(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        seen = 0
        started = time.perf_counter()
        idle = 0
        while seen < count and idle < 20:
            batches = await consumer.getmany(timeout_ms=200, max_records=10000)
            got = sum(len(v) for v in batches.values())
            idle = 0 if got else idle + 1
            seen += got
        return seen / (time.perf_counter() - started)
    finally:
        await consumer.stop()


def aiokafka_consume_rate(bootstrap: str, topic_name: str, count: int) -> float:
    """Messages/s of a plain aiokafka consumer reading ``count`` messages of a topic from the beginning."""
    return asyncio.run(_aiokafka_consume(bootstrap, topic_name, count))
