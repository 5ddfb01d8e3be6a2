"""Completes a table's recovery by reading its changelog to the true end.

The embedded broker (Tansu) can answer ListOffsets(latest) with the last batch's base offset + 1, so Faust's
recovery stops short and misses the newest records of the last batch. After Faust reports recovery complete
(and before the agents resume), this reads the table's active changelog partitions from the start until the
broker has nothing more to give and applies every record, so the table holds exactly what was written.

The opposite also happens: after the broker lost its data (it keeps everything in memory), a changelog can
report records it never delivers (a worker that lived through the outage wrote its buffered records there, and
the broker answers a high watermark of 1 with nothing fetchable at offset 0). Faust's recovery would wait for
them forever ("No event received for active tp"). :class:`LossTolerantRecovery` ends the recovery of such a
partition once nothing arrived for it for ``stall_seconds``, says so once, and the catch-up above reads what
the broker does deliver.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import faust
from aiokafka import AIOKafkaConsumer, TopicPartition
from faust.tables import TableManager
from faust.tables.recovery import Recovery
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

log = logging.getLogger(__name__)

MARK_EVERY_SECONDS = 5.0  # how often a worker notes which of its tables hold state (to notice a lost changelog)
STALL_SECONDS = 15.0  # an active changelog partition that delivers nothing this long while records are due is lost

IDLE_POLLS = 3
POLL_MS = 150


class StateMark:
    """A note in the worker's data directory of the partitions on which a table held state, so a restarted
    worker notices a changelog that came back empty (the broker lost it) instead of silently starting over."""

    def __init__(self, path: Path):
        self.path = path

    def partitions(self) -> set[int]:
        try:
            return set(json.loads(self.path.read_text())["partitions"])
        except (OSError, ValueError, KeyError, TypeError):
            return set()

    def note(self, partitions: list[int]) -> None:
        if set(partitions) == self.partitions():
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"partitions": sorted(partitions)}))
        tmp.replace(self.path)

    def lost(self, partitions: list[int], applied: int) -> list[int]:
        """Of ``partitions`` just recovered with ``applied`` changelog records: those that held state before."""
        return [] if applied else sorted(self.partitions() & set(partitions))


def install_catchup(app: faust.App, table: faust.Table, source_topic: str) -> None:
    """Register the catch-up as a recovery callback of ``table`` (partitions follow ``source_topic``), and the
    note of the partitions where it holds state."""
    mark = StateMark(Path(app.conf.datadir) / "tables" / f"{table.name}.json")

    def active_partitions() -> list[int]:
        return sorted(tp.partition for tp in app.assignor.assigned_actives() if tp.topic == source_topic)

    @table.on_recover
    async def catch_up() -> None:
        partitions = active_partitions()
        if not partitions:
            return
        try:
            applied = await read_changelog_to_end(app, table, partitions)
        except Exception as exc:  # a table we cannot trust must stop the worker, not run stale
            log.exception("table %s: changelog catch-up failed", table.name)
            await app.crash(exc)
            return
        lost = mark.lost(partitions, applied)
        if lost:
            reason = f"table {table.name} held state on partition(s) {lost} and its changelog is empty"
            log.error("%s: the broker lost data (restarted empty?); the table starts over", reason)
            broker_lost = getattr(app, "broker_lost", None)
            if broker_lost is not None:
                broker_lost(reason)

    @app.timer(MARK_EVERY_SECONDS)
    async def note_state() -> None:
        if table.data and not app.rebalancing:
            mark.note(active_partitions())


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


class LossTolerantRecovery(Recovery):
    """Faust's recovery, ending for a changelog partition that stalls with records still due (see the module
    docstring). A partition that delivers records is never cut short: only one that delivered nothing for
    ``stall_seconds`` in a row."""

    stall_seconds = STALL_SECONDS

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.lost: dict = {}  # tp -> records the broker reported and never delivered

    def need_recovery(self) -> bool:
        if self.in_recovery:
            self.give_up_stalled(time.monotonic())
        return super().need_recovery()

    def give_up_stalled(self, now: float) -> list:
        """End the recovery of the active partitions that have records due and delivered nothing for
        ``stall_seconds``; return them."""
        started = self._recovery_started_at or now
        stalled = [
            tp
            for tp, due in self.active_remaining().items()
            if due > 0 and now - self._active_events_received_at.get(tp, started) >= self.stall_seconds
        ]
        for tp in stalled:
            due = self.active_remaining()[tp]
            self.lost[tp] = due
            self.active_offsets[tp] = self.active_highwaters[tp]
            reason = (
                f"changelog {tp.topic}[{tp.partition}] reports {due} record(s) it does not deliver"
                f" ({self.stall_seconds:.0f}s without one): the broker lost data (restarted empty?)"
            )
            log.error("%s; its table starts from what the broker still delivers", reason)
            broker_lost = getattr(self.app, "broker_lost", None)
            if broker_lost is not None:
                broker_lost(reason)
        return stalled


class LossTolerantTableManager(TableManager):
    """Faust's table manager with :class:`LossTolerantRecovery`."""

    @property
    def recovery(self) -> Recovery:
        if self._recovery is None:
            self._recovery = LossTolerantRecovery(self.app, self, beacon=self.beacon, loop=self.loop)
        return self._recovery
