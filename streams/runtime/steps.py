"""The pure half of every agent: raw values in; decoded inputs, table writes, outputs and dead letters out.

An agent is ``decode_inputs`` (bad input -> failures) -> :func:`run_step` (a domain step applied record by
record; a record whose step raises becomes a failure and the rest of the batch is applied) -> the writes and
outputs finished by the runtime (outputs acknowledged, then changelogs, then offsets). Nothing here imports
Faust or Kafka: the testing kit's harness runs the same functions over in-memory tables.

A step is an object with

- ``tables``: the names of the tables it reads and writes (kept, with changelogs);
- ``scratch``: names of tables that live for one batch only (e.g. the latest play time per account);
- ``apply(item, view) -> (writes, outputs)``: one input; reads tables through ``view``, never mutates a value it
  read, and returns its table writes ``(table, key, partition, value)`` and outputs ``(topic, record)``. The
  writes are applied only when it returns, so a record that raises leaves no trace in the tables;
- ``finish(view) -> (writes, outputs)``: once per batch, after every record (e.g. one state record per changed
  key). It must not fail on what ``apply`` accepted: an error there stops the worker.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from itertools import repeat
from typing import Any, NamedTuple, Protocol

from schemas.codec import Codec
from schemas.exceptions import SchemaError
from streams.exceptions import InvalidRecord
from streams.topics import TopicSpec

# A value larger than this is not decoded: no input of ours comes near it, and a dead letter holding it
# could not be sent. The broker's default message limit is 1 MiB; a dead letter carries the raw value only
# when it leaves room for the other fields, else it points at the original (topic, partition, offset).
MAX_RECORD_BYTES = 1024 * 1024
MAX_DEAD_LETTER_VALUE = 512 * 1024
MAX_REASON_CHARS = 1000

Write = tuple[str, str, int, Any]  # (table, key, partition, value)
Output = tuple[str, dict[str, Any]]  # (topic, record)
Effects = tuple[Sequence[Write], Sequence[Output]]
NO_EFFECTS: Effects = ((), ())


class Input(NamedTuple):
    """One decoded record for a step. ``ref`` says where it came from (an event, or a position in a test)."""

    schema: str
    record: dict[str, Any]
    partition: int
    ref: Any = None


class Failure(NamedTuple):
    """A record that was not applied, and why (it goes to ``dead-letters``)."""

    ref: Any
    reason: str


class Step(Protocol):
    tables: tuple[str, ...]
    scratch: tuple[str, ...]

    def apply(self, item: Input, view: TableView) -> Effects: ...

    def finish(self, view: TableView) -> Effects: ...


class TableView:
    """The tables as a step sees them during a batch: the stored values overlaid by the batch's writes."""

    __slots__ = ("changes", "stored")

    def __init__(self, stored: Mapping[str, Mapping[str, Any]], scratch: Iterable[str] = ()):
        self.stored = stored
        # table -> key -> (partition, value): what the batch changed, written out when the batch is finished
        self.changes: dict[str, dict[str, tuple[int, Any]]] = {name: {} for name in stored}
        for name in scratch:
            self.changes[name] = {}

    def get(self, table: str, key: str) -> Any:
        hit = self.changes[table].get(key)
        if hit is not None:
            return hit[1]
        stored = self.stored.get(table)
        return None if stored is None else stored.get(key)

    def items(self, table: str) -> Iterator[tuple[str, Any]]:
        """Every key of ``table`` with its latest value (stored keys first, then keys new in this batch)."""
        changed = self.changes[table]
        stored = self.stored.get(table, {})
        for key, value in list(stored.items()):
            hit = changed.get(key)
            yield key, (value if hit is None else hit[1])
        for key, (_, value) in list(changed.items()):
            if key not in stored:
                yield key, value

    def write(self, writes: Iterable[Write]) -> None:
        changes = self.changes
        for table, key, partition, value in writes:
            changes[table][key] = (partition, value)


def describe(exc: BaseException) -> str:
    """A failure's reason: the exception's type and message (an ``InvalidRecord`` says the reason itself)."""
    text = str(exc) if isinstance(exc, InvalidRecord) else f"{type(exc).__name__}: {exc}"
    return text[:MAX_REASON_CHARS]


def run_step(step: Step, items: Iterable[Input], view: TableView) -> tuple[list[Output], list[Failure]]:
    """Apply ``step`` to each input in order, then finish the batch; returns ``(outputs, failures)``.

    A record whose ``apply`` raises is a failure (its reason is the exception) and the next record goes on from
    the state before it: one bad record never stops the batch, nor, since its writes are dropped, a later one.
    """
    outputs: list[Output] = []
    failures: list[Failure] = []
    apply = step.apply
    changes = view.changes
    extend = outputs.extend
    for item in items:
        try:
            writes, produced = apply(item, view)
        except Exception as exc:  # contained: the record is dead-lettered with the reason, the batch goes on
            failures.append(Failure(item.ref, describe(exc)))
            continue
        for table, key, partition, value in writes:
            changes[table][key] = (partition, value)
        if produced:
            extend(produced)
    writes, produced = step.finish(view)
    view.write(writes)
    outputs.extend(produced)
    return outputs, failures


def decode_inputs(
    codec: Codec,
    raw: Sequence[tuple[Any, bytes | None, int]],
    spec: TopicSpec,
    validate: Callable[[dict[str, Any]], None] | None = None,
) -> tuple[list[Input], list[Failure]]:
    """Decode ``(ref, value, partition)`` triples of ``spec``'s topic: ``(inputs in order, failures)``.

    One ``decode_many`` call for the batch; an oversized value, an undecodable one or a record ``validate``
    rejects (``InvalidRecord``) is a failure with its reason.
    """
    failures: list[Failure] = []
    if any(value is not None and len(value) > MAX_RECORD_BYTES for _, value, _ in raw):
        kept = []
        for entry in raw:
            value = entry[1]
            if value is not None and len(value) > MAX_RECORD_BYTES:
                failures.append(Failure(entry[0], f"value of {len(value)} bytes exceeds {MAX_RECORD_BYTES} bytes"))
            else:
                kept.append(entry)
        raw = kept
    fields: list[tuple[str, dict[str, Any], int, Any]] = []
    decoded = codec.decode_many([value for _, value, _ in raw], spec.value_schemas)
    for (ref, _, partition), result in zip(raw, decoded, strict=True):
        if isinstance(result, SchemaError):
            failures.append(Failure(ref, str(result)))
            continue
        name, record = result
        if validate is not None:
            try:
                validate(record)
            except InvalidRecord as exc:
                failures.append(Failure(ref, str(exc)))
                continue
        fields.append((name, record, partition, ref))
    # the named tuples made in C, without a Python call per record (the games' hot path)
    return list(map(tuple.__new__, repeat(Input), fields)), failures


def dead_letter_record(
    source_topic: str,
    partition: int,
    offset: int,
    key: bytes | None,
    value: bytes | None,
    reason: str,
    agent: str,
    failed_at: datetime,
) -> dict[str, Any]:
    """The DeadLetter record of a failed message; a value too big to carry goes by reference (empty value,
    the size in the reason; the original stays at ``source_topic[partition]@offset``)."""
    value = value if isinstance(value, bytes) else b""
    if len(value) > MAX_DEAD_LETTER_VALUE:
        note = f" (value of {len(value)} bytes not included: read it at {source_topic}[{partition}]@{offset})"
        reason = reason[: MAX_REASON_CHARS - len(note)] + note
        value = b""
    return {
        "source_topic": source_topic,
        "partition": partition,
        "offset": offset,
        "key": key if isinstance(key, bytes) else None,
        "value": value,
        "reason": reason[:MAX_REASON_CHARS],
        "agent": agent,
        "failed_at": failed_at,
    }
