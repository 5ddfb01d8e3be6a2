"""The pure skeleton of every agent: decoding, one failing record contained, dead letters by reference."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from schemas.codec import get_codec
from streams.exceptions import InvalidRecord
from streams.runtime.agent_context import StepRunner
from streams.runtime.steps import (
    MAX_DEAD_LETTER_VALUE,
    MAX_RECORD_BYTES,
    Failure,
    Input,
    TableView,
    dead_letter_record,
    decode_inputs,
    run_step,
)
from streams.topics import topic

NOW = datetime(2026, 3, 1, tzinfo=UTC)


class Counting:
    """Counts per key; a record with ``boom`` raises after reading, one with ``bad`` is an invalid record."""

    tables = ("counts",)
    scratch = ("seen",)

    def apply(self, item, view):
        key = item.record["key"]
        count = (view.get("counts", key) or 0) + 1
        if item.record.get("boom"):
            raise ZeroDivisionError("division by zero")
        if item.record.get("bad"):
            raise InvalidRecord(f"invalid count: key {key!r} is bad")
        return (("counts", key, item.partition, count), ("seen", key, item.partition, True)), (("out", {"n": count}),)

    def finish(self, view):
        return (), [("seen", {"keys": sorted(view.changes["seen"])})]


def inputs(*records: dict) -> list[Input]:
    return [Input("Rec", record, 0, i) for i, record in enumerate(records)]


def test_a_record_that_raises_is_a_failure_and_leaves_no_write_behind():
    view = TableView({"counts": {"a": 10}}, Counting.scratch)
    outputs, failures = run_step(
        Counting(), inputs({"key": "a"}, {"key": "a", "boom": True}, {"key": "b", "bad": True}, {"key": "a"}), view
    )
    assert failures == [Failure(1, "ZeroDivisionError: division by zero"), Failure(2, "invalid count: key 'b' is bad")]
    assert outputs == [("out", {"n": 11}), ("out", {"n": 12}), ("seen", {"keys": ["a"]})]
    assert view.changes["counts"] == {"a": (0, 12)} and view.stored == {"counts": {"a": 10}}
    assert dict(view.items("counts")) == {"a": 12}


def test_decoding_refuses_oversized_undecodable_and_invalid_values_in_order():
    codec = get_codec()
    spec = topic("system-metrics")
    good = {
        "server_id": "s1",
        "league": "NBA",
        "observed_at": NOW,
        "cpu_percent": 1.0,
        "memory_percent": 1.0,
        "disk_percent": 1.0,
        "workload": 1.0,
    }
    values = [
        codec.encode("SystemMetrics", good),
        b"x" * (MAX_RECORD_BYTES + 1),
        b"junk",
        codec.encode("SystemMetrics", {**good, "server_id": "s2"}),
    ]

    def validate(record):
        if record["server_id"] == "s2":
            raise InvalidRecord("server s2 is refused")

    decoded, failures = decode_inputs(codec, [(i, v, 3) for i, v in enumerate(values)], spec, validate)
    assert [(d.ref, d.schema, d.record["server_id"], d.partition) for d in decoded] == [(0, "SystemMetrics", "s1", 3)]
    assert [f.ref for f in failures] == [1, 2, 3]
    assert failures[0].reason == f"value of {MAX_RECORD_BYTES + 1} bytes exceeds {MAX_RECORD_BYTES} bytes"
    assert "not an Avro single-object encoded message" in failures[1].reason
    assert failures[2].reason == "server s2 is refused"


def test_a_dead_letter_too_big_for_the_broker_points_at_the_original():
    small = dead_letter_record("plays", 2, 40, b"k", b"abc", "bad", "wr", NOW)
    assert (small["value"], small["reason"], small["key"]) == (b"abc", "bad", b"k")
    big = dead_letter_record("plays", 2, 41, b"k", b"x" * (MAX_DEAD_LETTER_VALUE + 1), "r" * 2000, "wr", NOW)
    assert big["value"] == b"" and big["offset"] == 41 and len(big["reason"]) == 1000
    assert big["reason"].endswith(f"(value of {MAX_DEAD_LETTER_VALUE + 1} bytes not included: read it at plays[2]@41)")
    get_codec().encode("DeadLetter", big)  # a valid DeadLetter


class Message:
    def __init__(self, offset: int):
        self.topic, self.partition, self.offset, self.key, self.value = "in", 0, offset, b"k", b"raw"


class Event:
    def __init__(self, offset: int):
        self.message = Message(offset)


class Table:
    def __init__(self):
        self.data: dict = {}


class RecordingContext:
    """What :class:`StepRunner` asks of the app, recorded; output deliveries resolve when the test says."""

    def __init__(self):
        self.calls: list = []
        self.deliveries: list[asyncio.Future] = []
        self.app = type("App", (), {"should_stop": False})()

    def write_behind(self):
        from streams.runtime.write_behind import WriteBehind

        return WriteBehind(self)  # type: ignore[arg-type]

    def topic(self, name):
        return name

    def update_memory(self, table, changes):
        table.data.update((k, v) for k, (_, v) in changes.items())

    def _delivery(self, what):
        self.calls.append(("send", what))
        future = asyncio.get_running_loop().create_future()
        self.deliveries.append(future)
        return future

    async def send_outputs(self, outputs):
        return [self._delivery(topic_name) for topic_name, _ in outputs]

    async def send_dead_letters(self, failures):
        return [self._delivery(("dead-letter", event.message.offset, reason)) for event, reason in failures]

    async def send_changelogs(self, table, changes):
        self.calls.append(("changelog", sorted(changes)))

    def ack(self, events):
        self.calls.append(("ack", [e.message.offset for e in events]))

    def crash(self, exc):
        raise AssertionError(f"crashed: {exc}")


async def test_offsets_are_acked_only_after_outputs_and_dead_letters_are_delivered():
    ctx = RecordingContext()
    table = Table()
    runner = StepRunner(ctx, Counting(), {"counts": table})  # type: ignore[arg-type]
    events = [Event(0), Event(1), Event(2)]
    items = [Input("Rec", {"key": "a"}, 0, events[0]), Input("Rec", {"key": "a", "boom": True}, 0, events[1])]
    await runner.process(items, [Failure(events[2], "undecodable")], events)
    assert table.data == {"a": 1}  # memory at once, for the next batch
    await asyncio.sleep(0)
    assert ("ack", [0, 1, 2]) not in ctx.calls
    for delivery in ctx.deliveries:
        delivery.set_result(None)
    await runner.finishing.drain()
    assert ctx.calls == [
        ("send", "out"),
        ("send", "seen"),
        ("send", ("dead-letter", 2, "undecodable")),
        ("send", ("dead-letter", 1, "ZeroDivisionError: division by zero")),
        ("changelog", ["a"]),
        ("ack", [0, 1, 2]),
    ]
