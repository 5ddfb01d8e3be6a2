"""Finishing an agent's batches behind it, in order: outputs acknowledged, then changelogs, then offsets."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import TYPE_CHECKING, Any

import faust

if TYPE_CHECKING:
    from streams.runtime.agent_context import AgentContext

log = logging.getLogger(__name__)


async def await_all(futures: list[asyncio.Future]) -> None:
    """Wait for every future; raise the first error."""
    if futures:
        await asyncio.gather(*futures)


class WriteBehind:
    """Finishes an agent's batches in the background, in order, while the agent goes on with the next batch.

    For each batch: wait until the broker has the batch's outputs, then send the changelog records of its table
    changes, then ack its events (their offsets become committable; Faust flushes the changelogs before it commits
    them). That is the order of at-least-once: outputs (and dead letters) acknowledged before the changes they
    came from are written, changes before offsets; a crash in between repeats outputs (with the same
    deterministic ids) but never loses one. The agent updates the tables' in-memory data
    at once, so the next batch is decided on the latest state; a crash loses that memory, and the uncommitted
    events are redelivered and decided again from the last written state. At most ``depth`` batches are pending:
    :meth:`submit` waits for the oldest beyond that. A failed output or table write stops the worker.
    """

    def __init__(self, ctx: AgentContext, depth: int = 2):
        self.ctx = ctx
        self.depth = max(1, depth)
        self._pending: deque[asyncio.Future] = deque()

    async def submit(
        self,
        outputs: list[asyncio.Future],
        writes: list[tuple[faust.Table, dict[str, tuple[int, Any]]]],
        events: list[faust.EventT],
    ) -> None:
        pending = self._pending
        while pending and pending[0].done():
            pending.popleft()
        while len(pending) >= self.depth:
            await asyncio.shield(pending.popleft())
        previous = pending[-1] if pending else None
        finish = asyncio.ensure_future(self._finish(previous, outputs, writes, events))
        finish.add_done_callback(self._on_finished)
        pending.append(finish)
        # Let the loop run once: the producer's sender sends the batch's outputs now, and the consumer hands over
        # fetched records (an agent with a full queue otherwise runs batch after batch without ever yielding).
        await asyncio.sleep(0)

    async def drain(self) -> None:
        """Wait until every submitted batch is finished."""
        while self._pending:
            await asyncio.shield(self._pending.popleft())

    async def _finish(self, previous, outputs, writes, events) -> None:
        if previous is not None:
            await previous
        await await_all(outputs)
        if self.ctx.app.should_stop:
            return  # stopping: nothing more is written; the events stay unacked and are redelivered
        for table, changes in writes:
            await self.ctx.send_changelogs(table, changes)
        self.ctx.ack(events)

    def _on_finished(self, finish: asyncio.Future) -> None:
        if finish.cancelled():
            return  # the worker is stopping: the batch's events stay unacked and are redelivered
        exc = finish.exception()
        if exc is not None and not self.ctx.app.should_stop:
            log.error("a batch's outputs or table writes failed: %r", exc)
            self.ctx.crash(exc)
