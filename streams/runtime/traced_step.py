"""A step run with a trace span per record, when the process traces (``AgentContext.tracer`` is set).

The span continues the trace whose W3C context the record carries in its Kafka headers (started where it was
produced), and the outputs of that record carry the span's context on, in their own headers, to the effector that
carries them out. The tracer comes from the process that runs the app (``streams/`` imports no tracing library):
anything with ``span(name, headers=, attributes=, kind=)`` (a context manager) and ``inject(headers)``.

:func:`run_step_traced` is :func:`streams.runtime.steps.run_step` with the span around each ``apply``: the same
outputs in the same order, the same failures; only headers are added. Not tracing, the runtime calls ``run_step``
and none of this runs.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from streams.runtime.steps import Failure, Input, Output, Step, TableView, describe

Headers = list[tuple[str, bytes]]
TracedOutput = tuple[str, dict[str, Any], Headers | None]  # (topic, record, headers to send it with)


class RecordTracer(Protocol):
    def span(self, name: str, headers: Any = None, attributes: Any = None, kind: str = "internal") -> Any: ...

    def inject(self, headers: Any = None) -> Headers: ...


def event_headers(ref: Any) -> Any:
    """The Kafka headers of an input's event (None for a timer's input or a test's position)."""
    message = getattr(ref, "message", None)
    return getattr(message, "headers", None)


def run_step_traced(
    step: Step, items: Iterable[Input], view: TableView, tracer: RecordTracer, agent: str
) -> tuple[list[TracedOutput], list[Failure]]:
    """``run_step`` with a span named ``agent`` around each record's ``apply``; each output of a record carries
    that span's context (the batch's ``finish`` outputs belong to no one record: no headers)."""
    outputs: list[TracedOutput] = []
    failures: list[Failure] = []
    changes = view.changes
    for item in items:
        headers = event_headers(item.ref)
        attributes = _attributes(item)
        with tracer.span(agent, headers=headers, attributes=attributes, kind="consumer") as span:
            try:
                writes, produced = step.apply(item, view)
            except Exception as exc:  # contained, as in run_step: the record is dead-lettered, the batch goes on
                failures.append(Failure(item.ref, describe(exc)))
                if span is not None:
                    span.set_attribute("wirereport.dead_letter", True)
                continue
            for table, key, partition, value in writes:
                changes[table][key] = (partition, value)
            if produced:
                carried = tracer.inject()
                outputs.extend((name, record, carried) for name, record in produced)
    writes, produced = step.finish(view)
    view.write(writes)
    outputs.extend(_untraced(produced))
    return outputs, failures


def _untraced(produced: Iterable[Output]) -> list[TracedOutput]:
    return [(name, record, None) for name, record in produced]


def _attributes(item: Input) -> dict[str, str]:
    attributes = {"wirereport.schema": item.schema}
    for field in ("play_id", "game_id", "account", "league"):
        value = item.record.get(field) if isinstance(item.record, dict) else None
        if value is not None:
            attributes[f"wirereport.{field}"] = str(value)
    return attributes
