"""The one shape of every agent: ``batches`` -> ``decode_batch`` -> a pure step -> write-behind.

:class:`StepRunner` runs a domain step (see :mod:`streams.runtime.steps`) on a Faust stream: each batch is
decoded (bad input becomes a dead letter), the step is applied record by record (a record whose step raises
becomes a dead letter with the exception, the rest of the batch is applied), the tables' memory is updated at
once, and the batch is finished behind the agent: outputs and dead letters acknowledged, then changelogs, then
offsets. A timer goes through the same path with :meth:`StepRunner.tick`.

:func:`forward` is the one forwarding agent: it re-keys a topic's records into a feed topic (a domain's
``select`` picks the records and their key and partition), so a decision that needs one global view reads one
partition.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import faust

from streams.runtime.agent_context import AgentContext
from streams.runtime.steps import Failure, Input, Step, TableView, describe, run_step
from streams.runtime.traced_step import run_step_traced
from streams.topics import TopicSpec

log = logging.getLogger(__name__)

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
