"""Faust's aiokafka transport, tuned for a short hop latency and a cheap per-message hand-off.

Three overrides, all keeping Faust's semantics (offsets are committed after processing; tables, changelogs,
rebalances and recovery are Faust's own):

- Fetch wait. Faust hard-codes ``fetch_max_wait_ms=1500``. A broker that does not answer a fetch early when data
  arrives (the embedded Tansu broker waits the full time) then adds up to 1.5 s to every hop. A short wait keeps
  produce-to-output latency in milliseconds on any broker, at the cost of more (cheap) empty fetches.
- Message hand-off. Faust's ``Consumer._drain_messages`` delivers every fetched message to its streams through
  ``Service.wait_first(callback(message), suspend_flow.wait())``: four tasks, an ``asyncio.wait`` and their
  cancellation per message, only so that a rebalance can interrupt a delivery that blocks. Profiling showed this
  to be most of the per-event cost of a Faust worker. :meth:`FastDrainConsumer._drain_messages` awaits the
  delivery directly when it cannot block (flow active, producer buffer below its limit, no full stream queue);
  otherwise it takes Faust's original path, so a blocked delivery is still interrupted by a rebalance.
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
from faust.types.tuples import ack_lock

FETCH_MAX_WAIT_MS = 20
REBALANCE_FETCH_TIMEOUT = 0.05  # seconds: a fetch while rebalancing returns soon, so streams resume at once after


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
        # Faust 0.15.3 ``Consumer.getmany`` without the per-record ``monitor.track_tp_end_offset(tp, highwater)``: it
        # only feeds the Monitor sensor, which ``WireReportApp`` does not install.
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
        for tp, record in self.scheduler.iterate(records):
            if not self.flow_active:
                break
            if self.app.consumer_generation_id != generation_id:
                self.log.dev("Generation id changed from %r. Cancelling getmany.", generation_id)
                break
            if active_partitions is None or tp in active_partitions or tp in buffered_partitions:
                yield tp, to_message(tp, record)

    def ack_many(self, messages) -> list:
        """Ack each message once for its stream, as ``Message.ack(consumer)`` does; return those now committable.

        One ``ack_lock`` acquisition for the batch instead of three per message.
        """
        committable = []
        with ack_lock:
            for message in messages:
                if message.acked:
                    continue
                message.refcount = refcount = max(message.refcount - 1, 0)
                if not refcount and message.on_final_ack(self):
                    committable.append(message)
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
        # Faust 0.15.3 ``Consumer._drain_messages`` with the direct hand-off; everything else is unchanged.
        callback = self.callback
        getmany = self.getmany
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

        yield_every = 100
        num_since_yield = 0
        sleep = asyncio.sleep

        try:
            while not (consumer_should_stop() or fetcher_should_stop()):
                set_flag(CONSUMER_FETCHING)
                ait = cast(AsyncIterator, getmany(timeout=1.0))
                await self.sleep(0)
                if not self.should_stop:
                    async for tp, message in ait:
                        num_since_yield += 1
                        if num_since_yield > yield_every:
                            await sleep(0)
                            num_since_yield = 0

                        offset = message.offset
                        r_offset = get_read_offset(tp)
                        if r_offset is None or offset >= r_offset:
                            gap = offset - (r_offset or 0)
                            if gap > 1 and r_offset and acks_enabled_for(message.topic):
                                await self._add_gap(tp, r_offset + 1, offset)
                            if commit_every is not None and self._n_acked >= commit_every:
                                self._n_acked = 0
                                await self.commit()
                            if cannot_block(tp):
                                await handler_of(tp)(message)
                            else:
                                await self.wait_first(callback(message), self.suspend_flow.wait())
                            set_read_offset(tp, offset)
                        else:
                            self.log.dev("DROPPED MESSAGE ROFF %r: k=%r v=%r", offset, message.key, message.value)
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

        return on_message


class LowLatencyTransport(faust_aiokafka.Transport):
    Consumer = FastDrainConsumer
    Conductor = RawTopicsConductor


class WireReportApp(faust.App):
    """The Faust app class: the stock app with the low-latency consumer transport and without the Monitor sensor.

    Faust's default ``Monitor`` sensor does bookkeeping on every message in and out; it only feeds Faust's web
    views, which we do not run (``web_enabled=False``; our metrics come from the read model and the API).
    """

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
