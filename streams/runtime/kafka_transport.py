"""Faust's aiokafka transport, tuned for a short hop latency and a cheap per-message hand-off.

Three overrides, all keeping Faust's semantics (offsets are committed after processing; tables, changelogs,
rebalances and recovery are Faust's own):

- Fetch wait. Faust hard-codes ``fetch_max_wait_ms=1500``. A broker that does not answer a fetch early when data
  arrives (the embedded Tansu broker waits the full time) then adds up to 1.5 s to every hop. A short wait keeps
  produce-to-output latency in milliseconds on any broker, at the cost of more (cheap) empty fetches.
- Message hand-off. Faust's ``Consumer._drain_messages`` delivers every fetched message to its streams through
  ``Service.wait_first(callback(message), suspend_flow.wait())``: four tasks, an ``asyncio.wait`` and their
  cancellation per message, only so that a rebalance can interrupt a delivery that blocks. Profiling showed this
  to be most of the per-event cost of a Faust worker. :meth:`FastDrainConsumer._drain_messages` takes a fetch in
  chunks of one partition and, when delivery cannot block (flow active, producer buffer below its limit, room in
  every subscribed stream queue), queues a whole chunk's events at once (``deliver_many`` of
  :class:`RawTopicsConductor`); otherwise it takes Faust's original path message by message, so a blocked
  delivery is still interrupted by a rebalance.
- No stream fetches while rebalancing. At the end of a recovery Faust resumes the stream partitions, seeks them to
  the committed offsets and only then resumes the flow, which clears every stream buffer. Records fetched in
  between were delivered (their read offsets advanced past them) and are then cleared: never processed, never
  fetched again, so the worker sits idle on a gap it can never commit past. Stock Faust has this window too; a
  fast hand-off makes it likely. :meth:`FastDrainConsumer._getmany` fetches only changelog partitions (what
  recovery reads) while the app is rebalancing, so stream partitions are fetched only once recovery has ended,
  from the positions it seeked them to.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import cast

import faust
from faust.transport.conductor import Conductor
from faust.transport.consumer import CONSUMER_FETCHING
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types.tuples import ConsumerMessage, ack_lock
from mode.utils.futures import notify

from streams.runtime.changelog_catchup import LossTolerantTableManager

FETCH_MAX_WAIT_MS = 20
REBALANCE_FETCH_TIMEOUT = 0.05  # seconds: a fetch while rebalancing returns soon, so streams resume at once after
CHUNK = 1000  # messages of one partition handed to its streams at once


class LowLatencyConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport):
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS  # read by aiokafka when its fetcher starts
        return consumer


class FastDrainConsumer(faust_aiokafka.Consumer):
    """The aiokafka consumer with a short fetch wait and a direct message hand-off (see the module docstring)."""

    def _new_consumer_thread(self) -> LowLatencyConsumerThread:
        return LowLatencyConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def _getmany(self, active_partitions, timeout: float):
        if self.app.rebalancing and active_partitions:
            changelogs = self.app.tables.changelog_topics
            active_partitions = {tp for tp in active_partitions if tp.topic in changelogs}
            timeout = min(timeout, REBALANCE_FETCH_TIMEOUT)
            if not active_partitions:  # an empty set would make aiokafka return records of every partition
                await self.sleep(timeout)
                return {}
        return await super()._getmany(active_partitions, timeout)

    async def getmany(self, timeout: float):
        """Faust 0.15.3 ``Consumer.getmany``, one ``(tp, message)`` at a time (see :meth:`getmany_chunks`)."""
        async for tp, messages in self.getmany_chunks(timeout):
            for message in messages:
                yield tp, message

    async def getmany_chunks(self, timeout: float):
        """The next fetch as ``(tp, [message, ...])`` chunks of at most ``CHUNK`` messages of one partition.

        Faust 0.15.3 ``Consumer.getmany`` with the same checks (flow active, generation unchanged, active or buffered
        partition), made once per chunk instead of once per record, and without the per-record
        ``monitor.track_tp_end_offset(tp, highwater)``: it only feeds the Monitor sensor, which ``WireReportApp``
        does not install. Chunks of different partitions alternate, as Faust's round-robin scheduler does.
        """
        records, active_partitions = await self._wait_next_records(timeout)
        generation_id = self.app.consumer_generation_id
        if records is None or self.should_stop:
            return
        if not self.flow_active:
            self.log.dev("getmany called while flow not active. Seek back to committed offsets.")
            try:
                await self.perform_seek()
            except Exception as ex:
                self.log.warning(f"exception performing seek when flow not active {ex}")
            return
        to_message = self._to_message
        buffered_partitions = self._buffered_partitions
        chunks = {
            tp: (recs, 0)
            for tp, recs in records.items()
            if recs and (active_partitions is None or tp in active_partitions or tp in buffered_partitions)
        }
        while chunks:
            for tp in list(chunks):
                if not self.flow_active:
                    return
                if self.app.consumer_generation_id != generation_id:
                    self.log.dev("Generation id changed from %r. Cancelling getmany.", generation_id)
                    return
                recs, start = chunks[tp]
                end = start + CHUNK
                if end >= len(recs):
                    del chunks[tp]
                else:
                    chunks[tp] = (recs, end)
                yield tp, [to_message(tp, record) for record in recs[start:end]]

    def ack_many(self, messages) -> list:
        """Ack each message once for its stream, as ``Message.ack(consumer)`` does; return those now committable.

        One ``ack_lock`` acquisition for the batch instead of three per message, and Faust's ``Consumer.ack`` (what
        a consumer message's final ack calls) inlined: the message is marked acked and, for a topic with acks
        enabled, its offset recorded as committable once. Messages of another class take their own final ack.
        """
        committable = []
        acks_enabled_for = self.app.topics.acks_enabled_for
        committed_offset = self._committed_offset
        acked_index = self._acked_index
        acked = self._acked
        discard = self._unacked_messages.discard
        n_acked = 0
        with ack_lock:
            try:
                for message in messages:
                    if message.acked:
                        continue
                    message.refcount = refcount = max(message.refcount - 1, 0)
                    if refcount:
                        continue
                    if type(message) is not ConsumerMessage:
                        if message.on_final_ack(self):
                            committable.append(message)
                        continue
                    message.acked = True
                    tp, offset = message.tp, message.offset
                    if not acks_enabled_for(message.topic):
                        continue
                    committed = committed_offset[tp]
                    if committed is None or offset >= committed:
                        index = acked_index[tp]
                        if offset not in index:
                            discard(message)
                            index.add(offset)
                            acked[tp].append(offset)
                            n_acked += 1
                            committable.append(message)
            finally:
                self._n_acked += n_acked
                notify(self._waiting_for_ack)
        return committable

    def _delivery_cannot_block(self):
        """A predicate: would delivering a message of ``tp`` complete without waiting?

        Mirrors every wait in Faust's ``Conductor`` message handler: flow control (suspended while rebalancing),
        the producer buffer's ebb, the conductor's lock, and a full queue of any stream subscribed to ``tp``.
        """
        app = self.app
        flow_is_active = app.flow_control.is_active
        suspend_flow_is_set = self.suspend_flow.is_set
        producer_buffer = app.producer.buffer
        buffered = _buffered_size(app)
        buffer_limit = producer_buffer.max_messages
        conductor = app.topics
        tp_index = conductor._tp_index
        callback_lock = conductor._tp_to_callback_lock

        def cannot_block(tp) -> bool:
            if suspend_flow_is_set() or not flow_is_active() or callback_lock.locked():
                return False
            if buffered() > buffer_limit:
                return False
            channels = tp_index.get(tp)
            if not channels:
                return False
            return all(not channel.queue.full() for channel in channels)

        return cannot_block

    async def _drain_messages(self, fetcher) -> None:  # pragma: no cover - exercised by every worker test
        # Faust 0.15.3 ``Consumer._drain_messages``, a chunk of one partition at a time (read offsets, gaps and the
        # commit cadence kept per message), with the direct hand-off: a whole chunk at once through the raw topics'
        # ``deliver_many`` when nothing can block, else message by message as before.
        callback = self.callback
        getmany_chunks = self.getmany_chunks
        consumer_should_stop = self._stopped.is_set
        fetcher_should_stop = fetcher._stopped.is_set
        get_read_offset = self._read_offset.__getitem__
        set_read_offset = self._read_offset.__setitem__
        set_flag = self.diag.set_flag
        unset_flag = self.diag.unset_flag
        commit_every = self._commit_every
        acks_enabled_for = self.app.topics.acks_enabled_for
        cannot_block = self._delivery_cannot_block()
        # Faust's ``Conductor.on_message`` takes ``_tp_to_callback_lock`` to look up the partition's handler; a direct
        # delivery happens only while that lock is free (``cannot_block``), so it looks the handler up itself.
        handler_of = self.app.topics._tp_to_callback.__getitem__

        sleep = asyncio.sleep

        try:
            while not (consumer_should_stop() or fetcher_should_stop()):
                set_flag(CONSUMER_FETCHING)
                ait = cast(AsyncIterator, getmany_chunks(timeout=1.0))
                await self.sleep(0)
                if not self.should_stop:
                    async for tp, messages in ait:
                        r_offset = get_read_offset(tp)
                        if r_offset is not None and messages[0].offset < r_offset:
                            for message in messages:
                                if message.offset < r_offset:
                                    self.log.dev(
                                        "DROPPED MESSAGE ROFF %r: k=%r v=%r", message.offset, message.key, message.value
                                    )
                            messages = [message for message in messages if message.offset >= r_offset]
                            if not messages:
                                continue
                        if acks_enabled_for(tp.topic):
                            previous = r_offset
                            for message in messages:
                                if previous and message.offset - previous > 1:
                                    await self._add_gap(tp, previous + 1, message.offset)
                                previous = message.offset
                        if commit_every is not None and self._n_acked >= commit_every:
                            self._n_acked = 0
                            await self.commit()
                        handler = handler_of(tp) if cannot_block(tp) else None
                        deliver_many = getattr(handler, "deliver_many", None)
                        if deliver_many is not None and deliver_many(messages):
                            set_read_offset(tp, messages[-1].offset)
                        else:
                            for message in messages:
                                if not self.flow_active or self.app.consumer_generation_id != message.generation_id:
                                    break  # a rebalance began: Faust's ``getmany`` stops yielding here too
                                if cannot_block(tp):
                                    await handler_of(tp)(message)
                                else:
                                    await self.wait_first(callback(message), self.suspend_flow.wait())
                                set_read_offset(tp, message.offset)
                        await sleep(0)  # one chunk at a time: the agents run between chunks
                    unset_flag(CONSUMER_FETCHING)
        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                self.log.info("Broker stopped consumer, shutting down...")
                return
            raise
        except asyncio.CancelledError:
            if self.transport.app.should_stop:
                self.log.info("Consumer shutting down for user cancel.")
                return
            raise
        except Exception as exc:
            self.log.exception("Drain messages raised: %r", exc)
            raise
        finally:
            unset_flag(CONSUMER_FETCHING)


def _buffered_size(app):
    """A callable giving the producer buffer's size.

    ``ProducerBuffer.size`` reads a setting on every call (slow); with the in-loop producer it is the length of the
    pending queue. A threaded producer keeps the generic property.
    """
    buffer = app.producer.buffer
    if app.conf.producer_threaded:
        return type(buffer).size.fget.__get__(buffer)
    return buffer.pending.qsize


def _is_raw_topic(channel) -> bool:
    """A topic whose events carry the message's own key and value bytes (how ``AgentContext.topic`` declares them)."""
    return (
        isinstance(channel, faust.Topic)
        and channel.key_type is bytes
        and channel.value_type is bytes
        and channel.key_serializer == "raw"
        and channel.value_serializer == "raw"
    )


class RawTopicsConductor(Conductor):
    """Faust's per-partition message handler, with a lean path for partitions read only by raw-bytes topics.

    For such topics Faust's handler deserializes key and value with the ``raw`` codec (the bytes themselves) and
    builds the event through settings lookups, per message. The lean path builds the same event directly and
    queues it exactly as Faust does (pressure callbacks included). It takes Faust's own handler whenever that
    one could wait (flow suspended, producer buffer over its limit) or the subscribers changed.
    """

    def _build_handler(self, tp, channels):
        stock = super()._build_handler(tp, channels)
        subscribers = tuple(channels)
        if not subscribers or not all(_is_raw_topic(c) for c in subscribers):
            return stock
        app = self.app
        count = len(subscribers)
        flow_is_active = app.flow_control.is_active
        producer_buffer = app.producer.buffer
        buffered = _buffered_size(app)
        buffer_limit = producer_buffer.max_messages
        event_class = app.conf.Event
        consumer_on_buffer_full = app.consumer.on_buffer_full
        consumer_on_buffer_drop = app.consumer.on_buffer_drop
        on_topic_buffer_full = app.sensors.on_topic_buffer_full

        def on_pressure_high() -> None:
            on_topic_buffer_full(tp)
            consumer_on_buffer_full(tp)

        def on_pressure_drop() -> None:
            consumer_on_buffer_drop(tp)

        async def on_message(message) -> None:
            if len(channels) != count or not flow_is_active() or buffered() > buffer_limit:
                return await stock(message)
            message.refcount += count  # ``message.incref(count)``, as Faust's compiled handler does it
            event = event_class(app, message.key, message.value, message.headers, message)
            full = []
            for channel in subscribers:
                queue = channel.queue
                if queue.full():
                    full.append(channel)
                    continue
                queue.put_nowait_enhanced(event, on_pressure_high=on_pressure_high, on_pressure_drop=on_pressure_drop)
            if full:
                for _ in full:
                    on_topic_buffer_full(tp)
                await asyncio.wait([asyncio.ensure_future(c.put(event)) for c in full])

        def deliver_many(messages) -> bool:
            """Queue the events of ``messages`` (consecutive, of ``tp``) at once; ``False`` (nothing done) when
            :func:`on_message` would have to take Faust's handler or wait for room for any of them."""
            n = len(messages)
            if len(channels) != count or not flow_is_active() or buffered() > buffer_limit:
                return False
            queues = [channel.queue for channel in subscribers]
            if any(queue.maxsize and queue.maxsize - queue.qsize() < n for queue in queues):
                return False
            events = []
            for message in messages:
                message.refcount += count
                events.append(event_class(app, message.key, message.value, message.headers, message))
            for queue in queues:
                # ``put_nowait_enhanced`` per event: the pressure check made once, before the first (as Faust makes
                # it before each), then the events appended as ``force_put_nowait`` appends each.
                if queue.in_pressure_high_state(on_pressure_drop):
                    on_pressure_high()
                queue._queue.extend(events)
                queue._unfinished_tasks += n
                queue._finished.clear()
                queue._wakeup_next(queue._getters)
            return True

        on_message.deliver_many = deliver_many  # type: ignore[attr-defined]
        return on_message


class LowLatencyTransport(faust_aiokafka.Transport):
    Consumer = FastDrainConsumer
    Conductor = RawTopicsConductor


class WireReportApp(faust.App):
    """The Faust app class: the stock app with the low-latency consumer transport and without the Monitor sensor.

    Faust's default ``Monitor`` sensor does bookkeeping on every message in and out; it only feeds Faust's web
    views, which we do not run (``web_enabled=False``; our metrics come from the read model and the API).
    Its tables recover with :class:`LossTolerantRecovery` (a changelog the broker lost does not hang the start);
    ``on_broker_lost`` callbacks hear why when the app notices the broker lost data.
    """

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("TableManager", LossTolerantTableManager)
        super().__init__(*args, **kwargs)
        self.on_broker_lost: list = []

    def broker_lost(self, reason: str) -> None:
        """Tell the ``on_broker_lost`` callbacks (the worker's readiness) that the broker lost data, and why."""
        for callback in self.on_broker_lost:
            callback(reason)

    def _new_transport(self):
        return LowLatencyTransport(self.conf.broker_consumer, self)

    def on_rebalance_start(self) -> None:
        super().on_rebalance_start()
        # Without sensors the state is empty and Faust would warn "Missing sensor state" on every rebalance.
        self._rebalancing_sensor_state = self._rebalancing_sensor_state or {"sensors": None}

    def on_init_dependencies(self):
        dependencies = super().on_init_dependencies()
        self.sensors.remove(self.monitor)
        return dependencies
