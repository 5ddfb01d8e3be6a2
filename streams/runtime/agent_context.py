"""What every agent gets from the app: declared topics, Avro tables, batches, encoding and dead letters.

Agents use it through :class:`StepRunner` (batches -> decode -> a pure step -> write-behind) and :func:`forward`,
at the end of this module; the rest is the Faust plumbing under them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import faust
from aiokafka import AIOKafkaConsumer
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

from schemas.codec import get_codec
from schemas.exceptions import SchemaError
from streams.runtime.changelog_catchup import install_catchup
from streams.runtime.faust_codec import AvroRecordCodec, JsonStateCodec, Utf8Codec
from streams.runtime.steps import Failure, Input, Step, TableView, dead_letter_record, decode_inputs, describe, run_step
from streams.runtime.traced_step import run_step_traced
from streams.runtime.write_behind import WriteBehind
from streams.settings import Settings
from streams.topics import TopicSpec, topic

log = logging.getLogger(__name__)

# Sees every batch of outputs the agents send, as ``(topic, record)`` pairs (e.g. to export metrics from them)
OutputObserver = Callable[[list[tuple[str, dict[str, Any]]]], None]


def _take_queued(queue, pending: list, max_events: int) -> None:
    """Move up to ``max_events - len(pending)`` queued items to ``pending`` at once.

    ``get_nowait`` per item, in bulk: the items leave the deque together, then the queue's bookkeeping runs as
    ``get_nowait`` would have run it (pressure-drop callbacks that resume the partitions' fetching, putters woken
    for the freed room). A queue holding an error takes the per-item path, which raises it.
    """
    items = getattr(queue, "_queue", None)
    if items is None or getattr(queue, "_errors", None) or not hasattr(queue, "maybe_endorse_pressure_drop"):
        while len(pending) < max_events and not queue.empty():
            pending.append(queue.get_nowait())
        return
    n = min(max_events - len(pending), len(items))
    if n <= 0:
        return
    popleft = items.popleft
    pending.extend([popleft() for _ in range(n)])
    pressure = queue._pending_pressure_drop_callbacks
    for _ in range(len(pressure)):
        queue.maybe_endorse_pressure_drop()
    putters = queue._putters
    for _ in range(min(n, len(putters))):
        queue._wakeup_next(putters)


class AgentContext:
    """Shared plumbing of the Faust app's agents."""

    def __init__(self, app: faust.App, settings: Settings):
        self.app = app
        self.settings = settings
        self.codec = get_codec()
        self._topics: dict[str, faust.TopicT] = {}
        self.tables: dict[str, faust.Table] = {}  # shared between agents, e.g. "games"
        self.dead_letter_count = 0
        # Set by the process that runs the app (streams/ knows no metrics library); None costs one test a batch.
        self.observer: OutputObserver | None = None
        # A tracer (see streams.runtime.traced_step) when the process traces; None: no per-record work at all.
        self.tracer: Any = None
        self._crashing: set[asyncio.Future] = set()

    def topic(self, name: str) -> faust.TopicT:
        """The Faust topic for a declared topic; values are raw bytes (decoded by :meth:`decode_batch`)."""
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

    async def follow(
        self, topic_name: str, on_record: Callable[[dict[str, Any]], None], read: asyncio.Event | None = None
    ) -> None:
        """Hand every record of ``topic_name`` to ``on_record``, from the topic's beginning, until the worker stops;
        set ``read`` once what the topic held at the start was handed over (a fetch came back empty).

        No consumer group: every worker reads the whole topic (for state every worker needs whatever partitions
        it was assigned, e.g. what the publisher reports). A record that does not decode is skipped with a
        warning (its producer owns it); a broker that lost the topic is read again from the new beginning.
        """
        spec = topic(topic_name)
        while not self.app.should_stop:
            consumer = AIOKafkaConsumer(
                bootstrap_servers=[f"{url.host}:{url.port}" for url in self.app.conf.broker],
                enable_auto_commit=False,
                group_id=None,
                auto_offset_reset="earliest",
                **credentials_to_aiokafka_auth(self.app.conf.broker_credentials),
            )
            try:
                await consumer.start()
                consumer.subscribe([spec.name])
                while not self.app.should_stop:
                    batches = await consumer.getmany(timeout_ms=500, max_records=2000)
                    if read is not None and not any(batches.values()):
                        read.set()
                    for records in batches.values():
                        for record in records:
                            try:
                                _, value = self.codec.decode(record.value, spec.value_schemas)
                            except SchemaError as exc:
                                log.warning("%s[%d]@%d skipped: %s", spec.name, record.partition, record.offset, exc)
                                continue
                            on_record(value)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the broker away: read again once it answers (records are idempotent)
                log.warning("reading %s: %r; retrying", spec.name, exc)
                await asyncio.sleep(2.0)
            finally:
                await consumer.stop()

    def _on_changelog_written(self, written: asyncio.Future) -> None:
        exc = None if written.cancelled() else written.exception()
        if written.cancelled() or exc is not None:
            log.error("changelog write failed: %r", exc or "cancelled")
            self.crash(exc or RuntimeError("changelog write cancelled"))

    async def batches(
        self, stream: faust.StreamT, max_events: int, *, ack: bool = True
    ) -> AsyncIterator[list[faust.EventT]]:
        """The agent's events in batches: everything already queued (up to ``max_events``), without waiting.

        A lean replacement for ``stream.take_events``, which hands every event through the Stream machinery
        (processors, sensors, a buffer hand-off per event) and holds a batch back for its ``within`` window. This
        reads the agent's channel queue directly: it waits only for the first event, then takes what is queued,
        so a backlog gives full batches and a quiet topic gives a batch per event, at once. Faust's semantics
        are kept: events fetched before a rebalance are dropped unprocessed (as ``Stream`` drops them), each
        message is tracked as unacked, and a batch's events are acked (their offsets become committable) only
        when the agent asks for the next batch, i.e. after it has processed and published this one; with
        ``ack=False`` the agent acks them itself (:meth:`ack`, e.g. through a :class:`WriteBehind`).
        """
        app = self.app
        consumer = app.consumer
        queue = stream.channel.queue
        on_message_in = app.sensors.on_message_in
        while not app.should_stop:
            try:
                pending = [await queue.get()]
            except StopAsyncIteration:  # the channel was closed: the worker is stopping
                return
            _take_queued(queue, pending, max_events)
            generation = app.consumer_generation_id
            active = app.flow_control.is_active()
            acking_topics = app.topics._acking_topics
            add_unacked = consumer._unacked_messages.add
            sensors = any(True for _ in app.sensors)
            events: list[faust.EventT] = []
            for event in pending:
                if not isinstance(event, faust.Event):
                    continue
                message = event.message
                if not active or message.generation_id != generation:
                    continue  # fetched before a rebalance: Faust's Stream drops these too (not acked)
                if not message.tracked and message.topic in acking_topics:
                    message.tracked = True
                    add_unacked(message)
                    if sensors:
                        on_message_in(message.tp, message.offset, message)
                events.append(event)
            if not events:
                continue
            yield events
            if ack:
                self.ack(events)

    def ack(self, events: list[faust.EventT]) -> None:
        """Acknowledge processed events: their offsets become committable (as ``Event.ack`` per event)."""
        consumer = self.app.consumer
        messages = [event.message for event in events]
        ack_many = getattr(consumer, "ack_many", None)
        if ack_many is not None:
            committable = ack_many(messages)
        else:
            committable = [message for message in messages if message.ack(consumer)]
        if committable and any(True for _ in self.app.sensors):
            on_message_out = self.app.sensors.on_message_out
            for message in committable:
                on_message_out(message.tp, message.offset, message)

    def decode_batch(
        self, events: list[faust.EventT], spec: TopicSpec, validate=None
    ) -> tuple[list[Input], list[Failure]]:
        """Decode a batch of ``spec``'s events without awaiting per event: ``(inputs, failures)``.

        Each input's and failure's ``ref`` is its event (a failure goes to :meth:`send_dead_letters`).
        """
        return decode_inputs(
            self.codec, [(event, event.value, event.message.partition) for event in events], spec, validate
        )

    async def send_dead_letters(self, failures: list[Failure]) -> list[asyncio.Future]:
        """Send each failure's raw message with its origin and reason to ``dead-letters``; return the delivery
        futures (the batch's offsets are acked only after they resolve, so a dead letter is never lost)."""
        futures = []
        now = datetime.now(UTC)
        for event, reason in failures:
            msg = event.message
            self.dead_letter_count += 1
            log.warning("dead letter %s[%d]@%d: %s", msg.topic, msg.partition, msg.offset, reason)
            letter = dead_letter_record(
                msg.topic, msg.partition, msg.offset, msg.key, msg.value, reason, self.settings.app_id, now
            )
            if self.observer is not None:
                self._observe([("dead-letters", letter)])
            futures.append(
                await self.send_raw("dead-letters", msg.topic.encode(), self.codec.encode("DeadLetter", letter))
            )
        return futures

    async def send_raw(self, topic_name: str, key: bytes, value: bytes, partition: int | None = None) -> asyncio.Future:
        """Hand an already encoded record to the producer; returns its delivery future (not awaited)."""
        return await self.app.producer.send(topic(topic_name).name, key, value, partition, None, None)

    async def send_outputs(self, outputs: list[tuple[str, dict[str, Any]]]) -> list[asyncio.Future]:
        """Encode and send ``(topic, record)`` outputs; return their delivery futures (not awaited).

        Straight to the producer (the values are already bytes): Faust's ``Topic.send`` adds serializer, sensor
        and callback bookkeeping per message. ``producer.send`` only queues the record, so a batch's outputs travel
        in a few produce requests.
        """
        if self.observer is not None:
            self._observe(outputs)
        send = self.app.producer.send
        encode = self.codec.encode
        futures = []
        for name, record in outputs:
            spec = topic(name)
            key = spec.key_of(record).encode()
            value = encode(spec.schema, record)
            futures.append(await send(spec.name, key, value, spec.partition_of(record), None, None))
        return futures

    def _observe(self, outputs: list[tuple[str, dict[str, Any]]]) -> None:
        try:
            self.observer(outputs)
        except Exception:  # observing must never stop an agent: its outputs still go out
            log.warning("the output observer failed", exc_info=True)

    async def send_traced_outputs(
        self, outputs: list[tuple[str, dict[str, Any], list[tuple[str, bytes]] | None]]
    ) -> list[asyncio.Future]:
        """:meth:`send_outputs` of ``(topic, record, headers)`` outputs: each sent with its headers (a trace's)."""
        if self.observer is not None:
            self._observe([(name, record) for name, record, _ in outputs])
        send = self.app.producer.send
        encode = self.codec.encode
        futures = []
        for name, record, headers in outputs:
            spec = topic(name)
            key = spec.key_of(record).encode()
            value = encode(spec.schema, record)
            futures.append(await send(spec.name, key, value, spec.partition_of(record), None, headers))
        return futures

    def write_behind(self, depth: int = 2) -> WriteBehind:
        """A :class:`WriteBehind` for one agent (its batches in order)."""
        return WriteBehind(self, depth)

    @staticmethod
    def update_memory(table: faust.Table, changes: dict[str, tuple[int, Any]]) -> None:
        """Apply ``changes`` (``key -> (partition, value)``) to the table's in-memory data only; the changelog
        records follow through :meth:`send_changelogs` (see :class:`WriteBehind`)."""
        data = table.data
        for key, (_, value) in changes.items():
            data[key] = value

    async def send_changelogs(self, table: faust.Table, changes: dict[str, tuple[int, Any]]) -> None:
        """The changelog records of ``changes`` (``key -> (partition, value)``, already in ``table.data``)."""
        send = self.app.producer.send
        changelog = table.changelog_topic.get_topic_name()
        dump_key, dump_value = table.key_serializer.dumps, table.value_serializer.dumps
        on_written = self._on_changelog_written
        for key, (partition, value) in changes.items():
            written = await send(changelog, dump_key(key), dump_value(value), partition, None, None)
            written.add_done_callback(on_written)

    def crash(self, exc: BaseException) -> None:
        """Stop the worker on an error it must not run past (a lost output or table write)."""
        self._crashing.add(asyncio.ensure_future(self.app.crash(exc)))


# The one shape of every agent: ``batches`` -> ``decode_batch`` -> a pure step -> write-behind.
#
# :class:`StepRunner` runs a domain step (see :mod:`streams.runtime.steps`) on a Faust stream: each batch is decoded
# (bad input becomes a dead letter), the step is applied record by record (a record whose step raises becomes a dead
# letter with the exception, the rest of the batch is applied), the tables' memory is updated at once, and the batch
# is finished behind the agent: outputs and dead letters acknowledged, then changelogs, then offsets. A timer goes
# through the same path with :meth:`StepRunner.tick`. :func:`forward` is the one forwarding agent: it re-keys a
# topic's records into a feed topic (a domain's ``select`` picks the records and their key and partition), so a
# decision that needs one global view reads one partition.

# (key, partition) of a forwarded record, or None to drop it
Select = Callable[[str, dict[str, Any]], tuple[bytes, int | None] | None]


class StepRunner:
    """A step on the Faust app: its tables, its batches finished in order, its failures dead-lettered."""

    def __init__(self, ctx: AgentContext, step: Step, tables: dict[str, faust.Table]):
        missing = set(step.tables) - set(tables)
        if missing:
            raise ValueError(f"step {type(step).__name__} needs the tables {sorted(missing)}")
        self.ctx = ctx
        self.step = step
        self.tables = {name: tables[name] for name in step.tables}
        self.finishing = ctx.write_behind()
        self.span_name = f"step {type(step).__name__}"
        ctx.topic("dead-letters")  # declared on the app, so the worker creates it

    async def run(self, stream: faust.StreamT, spec: TopicSpec, validate=None) -> None:
        """The agent's loop over ``stream`` (a topic of ``spec``)."""
        ctx = self.ctx
        async for events in ctx.batches(stream, ctx.settings.worker_batch_size, ack=False):
            items, failed = ctx.decode_batch(events, spec, validate)
            await self.process(items, failed, events)

    async def tick(self, record: dict[str, Any]) -> None:
        """A timer's input: one ``Tick`` record through the step, published like a batch (no offsets)."""
        await self.process([Input("Tick", record, -1, None)], [], [])

    async def process(self, items: list[Input], failed: list[Failure], events: list[faust.EventT]) -> None:
        ctx = self.ctx
        view = TableView({name: table.data for name, table in self.tables.items()}, self.step.scratch)
        tracer = getattr(ctx, "tracer", None)  # set by the process after the agents were installed, if it traces
        if tracer is None:
            outputs, failures = run_step(self.step, items, view)
        else:
            traced, failures = run_step_traced(self.step, items, view, tracer, self.span_name)
        # The tables' memory first, before anything awaits: a timer's step that runs while this batch's outputs
        # are being sent decides on this batch's state.
        writes = []
        for name, table in self.tables.items():
            changes = view.changes[name]
            if changes:
                ctx.update_memory(table, changes)
                writes.append((table, changes))
        if tracer is None:
            futures = await ctx.send_outputs(outputs)
        else:
            futures = await ctx.send_traced_outputs(traced)
        letters = failed + [f for f in failures if f.ref is not None]
        for failure in failures:
            if failure.ref is None:  # a timer's input has no message to dead-letter
                log.error("%s: a timer's step failed: %s", type(self.step).__name__, failure.reason)
        if letters:
            futures += await ctx.send_dead_letters(letters)
        await self.finishing.submit(futures, writes, events)


async def forward(
    ctx: AgentContext,
    stream: faust.StreamT,
    spec: TopicSpec,
    feed: TopicSpec,
    select: Select,
    *,
    validate=None,
    report: bool = True,
) -> None:
    """Forward the raw values of ``spec``'s records that ``select`` keeps to ``feed`` (keyed as it says).

    ``report=False`` for a topic this agent is not the main reader of: its main reader dead-letters what does
    not decode or validate, so a bad message is reported once. What ``select`` rejects is always reported here.
    """
    finishing = ctx.write_behind()
    ctx.topic("dead-letters")
    async for events in ctx.batches(stream, ctx.settings.worker_batch_size, ack=False):
        items, failed = ctx.decode_batch(events, spec, validate)
        letters = failed if report else []
        futures = []
        for item in items:
            try:
                target = select(item.schema, item.record)
            except Exception as exc:  # contained: this record is dead-lettered, the others go on
                letters.append(Failure(item.ref, describe(exc)))
                continue
            if target is not None:
                futures.append(await ctx.send_raw(feed.name, target[0], item.ref.value, target[1]))
        if letters:
            futures += await ctx.send_dead_letters(letters)
        await finishing.submit(futures, [], events)
