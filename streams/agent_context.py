"""What every agent module gets from the app: declared topics, Avro tables, encoding and dead letters.

Agents stay thin: decode with :meth:`AgentContext.decode` (bad input goes to ``dead-letters`` and the agent
goes on), call pure domain functions, update tables, :meth:`AgentContext.send` the results.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

import faust

from schemas.codec import get_codec
from schemas.exceptions import SchemaError
from streams.changelog_catchup import install_catchup
from streams.exceptions import InvalidRecord
from streams.faust_codec import AvroRecordCodec, JsonStateCodec, Utf8Codec
from streams.settings import Settings
from streams.topics import TopicSpec, topic

log = logging.getLogger(__name__)


class AgentContext:
    """Shared plumbing of the Faust app's agents."""

    def __init__(self, app: faust.App, settings: Settings):
        self.app = app
        self.settings = settings
        self.codec = get_codec()
        self._topics: dict[str, faust.TopicT] = {}
        self.tables: dict[str, faust.Table] = {}  # shared between agents, e.g. "games"
        self.dead_letter_count = 0

    def topic(self, name: str) -> faust.TopicT:
        """The Faust topic for a declared topic; values are raw bytes (decoded by :meth:`decode`)."""
        if name not in self._topics:
            spec = topic(name)
            self._topics[name] = self.app.topic(
                spec.name,
                key_type=bytes,
                value_type=bytes,
                key_serializer="raw",
                value_serializer="raw",
                partitions=spec.partitions,
                internal=False,
            )
        return self._topics[name]

    def table(self, name: str, schema: str, source_topic: str, help_text: str = "") -> faust.Table:
        """An in-memory table backed by a compacted changelog whose values are Avro records of ``schema``.

        ``schema="JsonState"`` stores a pure module's JSON-able state dict (wrapped in the Avro record).

        The table is co-partitioned with ``source_topic`` (the topic whose events update it); after a
        restart it is recovered from its changelog to the true end (see ``changelog_catchup``).
        """
        table = self.app.Table(name, partitions=topic(source_topic).partitions, help=help_text)
        # Faust derives serializers from types (JSON by default) and built the changelog topic with them
        # when the table was registered: switch both to our codecs before anything is read or written.
        table.key_serializer = Utf8Codec()
        table.value_serializer = JsonStateCodec() if schema == "JsonState" else AvroRecordCodec(schema)
        table.changelog_topic = table._new_changelog_topic()
        install_catchup(self.app, table, source_topic)
        self.tables[name] = table
        return table

    def store(self, table: faust.Table, key: str, value: Any, partition: int) -> None:
        """Write one key of a table and its changelog record (to ``partition``, the source event's partition).

        Agents call this once per changed key per batch (bulk update), not once per event.
        """
        table.data[key] = value
        table.send_changelog(partition, key, value)

    async def decode(
        self, event: faust.EventT, spec: TopicSpec, validate=None, *, report: bool = True
    ) -> tuple[str, dict[str, Any]] | None:
        """Decode an event of ``spec``; on failure send a dead letter and return ``None``.

        ``report=False`` for an agent that is not the topic's main reader: the main reader already sends the dead
        letter, so a bad message is reported once, not once per agent.
        """
        try:
            name, record = self.codec.decode(event.value, spec.value_schemas)
            if validate is not None:
                validate(record)
            return name, record
        except (SchemaError, InvalidRecord) as exc:
            if report:
                await self.dead_letter(event, str(exc))
            return None

    async def dead_letter(self, event: faust.EventT, reason: str, agent: str = "") -> None:
        """Send the raw message with its origin and ``reason`` to ``dead-letters``.

        Sent before the event is acknowledged; Faust flushes the producer before it commits offsets, so a
        dead letter is never lost (at-least-once).
        """
        msg = event.message
        letter = {
            "source_topic": msg.topic,
            "partition": msg.partition,
            "offset": msg.offset,
            "key": msg.key if isinstance(msg.key, bytes) else None,
            "value": msg.value if isinstance(msg.value, bytes) else b"",
            "reason": reason[:1000],
            "agent": agent or self.settings.app_id,
            "failed_at": datetime.now(UTC),
        }
        self.dead_letter_count += 1
        log.warning("dead letter %s[%d]@%d: %s", msg.topic, msg.partition, msg.offset, reason)
        await self.topic("dead-letters").send(
            key=msg.topic.encode(), value=self.codec.encode("DeadLetter", letter), force=True
        )

    async def send(self, topic_name: str, record: dict[str, Any], schema: str | None = None) -> asyncio.Future:
        """Encode ``record`` and send it now, keyed per the topic's contract (flushed before offsets commit).

        Returns the delivery future; :meth:`publish` awaits a whole batch of them.
        """
        spec = topic(topic_name)
        return await self.topic(topic_name).send(
            key=spec.key_of(record).encode(),
            value=self.codec.encode(schema or spec.schema, record),
            partition=spec.partition_of(record),
            force=True,
        )

    async def publish(self, outputs: list[tuple[str, dict[str, Any]]]) -> None:
        """Send ``(topic, record)`` outputs and wait until the broker has them all.

        Call this before writing the table changes that the outputs came from: if the worker dies in between,
        the inputs are redelivered and recomputed from the older state, so an output is repeated (with the
        same deterministic id) but never lost.
        """
        futures = [await self.send(name, record) for name, record in outputs]
        if futures:
            await asyncio.gather(*futures)
