"""The worker's batch plumbing: bulk queue reads, bulk acks, and batches finished in order behind the agent."""

from __future__ import annotations

import asyncio

from faust.types import TP
from faust.types.tuples import ConsumerMessage
from mode.utils.queues import FlowControlEvent, ThrowableQueue

from streams.app import create_app
from streams.runtime.agent_context import _take_queued
from streams.runtime.write_behind import WriteBehind
from streams.settings import Settings


async def test_take_queued_moves_items_in_order_and_endorses_the_pressure_drop():
    queue = ThrowableQueue(maxsize=10, flow_control=FlowControlEvent())
    resumed = []
    for i in range(9):
        queue.put_nowait_enhanced(i, on_pressure_high=lambda: None, on_pressure_drop=lambda: resumed.append(True))
    assert queue._pending_pressure_drop_callbacks  # 9 >= 10 / 1.25: the partition would be paused
    pending = [queue.get_nowait()]
    _take_queued(queue, pending, 5)
    assert pending == [0, 1, 2, 3, 4]
    assert queue.qsize() == 4 and resumed == [True]  # 4 <= 10 * 0.4: fetching resumes
    _take_queued(queue, pending, 100)
    assert pending == list(range(9)) and queue.empty()


def _message(tp: TP, offset: int) -> ConsumerMessage:
    return ConsumerMessage(tp.topic, tp.partition, offset, 0.0, 0, [], b"k", b"v", None, 1, 1, tp)


async def test_ack_many_makes_each_offset_committable_once(tmp_path):
    app = create_app(Settings(kafka_bootstrap="127.0.0.1:9", app_id="unit-acks", data_dir=tmp_path))
    consumer = app.consumer
    tp = TP("plays", 0)
    app.topics._acking_topics.add("plays")
    messages = [_message(tp, offset) for offset in range(5)]
    messages[2].refcount = 2  # read by two streams: committable after both acks
    for message in messages:
        message.refcount = max(message.refcount, 1)
        consumer._unacked_messages.add(message)

    committable = consumer.ack_many(messages)
    assert [m.offset for m in committable] == [0, 1, 3, 4]
    assert consumer.ack_many(messages) == [messages[2]]  # its second ack; the others are already acked
    assert consumer.ack_many(messages) == []
    assert sorted(consumer._acked[tp]) == [0, 1, 2, 3, 4]
    assert not consumer._unacked_messages
    assert consumer._new_offset(tp) == 5


class RecordingContext:
    """The two calls :class:`WriteBehind` makes, recorded in order."""

    def __init__(self, app) -> None:
        self.app = app
        self.calls: list[tuple[str, object]] = []
        self.crashed: list[BaseException] = []

    async def send_changelogs(self, table, changes) -> None:
        self.calls.append(("changelog", table))

    def ack(self, events) -> None:
        self.calls.append(("ack", events[0]))

    def crash(self, exc: BaseException) -> None:
        self.crashed.append(exc)


class App:
    should_stop = False


async def test_batches_finish_in_order_after_their_outputs_are_acknowledged():
    ctx = RecordingContext(App())
    behind = WriteBehind(ctx, depth=3)  # type: ignore[arg-type]
    loop = asyncio.get_running_loop()
    first, second = loop.create_future(), loop.create_future()
    await behind.submit([first], [("t1", {})], ["batch1"])
    await behind.submit([second], [("t2", {})], ["batch2"])
    second.set_result(None)  # the later batch's outputs are acknowledged first
    await asyncio.sleep(0.01)
    assert ctx.calls == []  # nothing is written before the first batch's outputs are acknowledged
    first.set_result(None)
    await behind.drain()
    assert ctx.calls == [("changelog", "t1"), ("ack", "batch1"), ("changelog", "t2"), ("ack", "batch2")]


async def test_a_failed_output_writes_nothing_and_stops_the_worker():
    ctx = RecordingContext(App())
    behind = WriteBehind(ctx, depth=1)  # type: ignore[arg-type]
    failed = asyncio.get_running_loop().create_future()
    failed.set_exception(RuntimeError("broker refused"))
    await behind.submit([failed], [("t1", {})], ["batch1"])
    await asyncio.sleep(0.01)
    assert ctx.calls == [] and [str(e) for e in ctx.crashed] == ["broker refused"]
