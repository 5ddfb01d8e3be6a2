"""JSON log lines with correlation ids (``play_id``, ``game_id``, ``command_id``, ``trace_id``) when known.

The ids live in context variables, so they follow a request or a record through ``await`` and threads started
with ``contextvars.copy_context``::

    with log_context(game_id=game["game_id"], play_id=play["play_id"]):
        log.info("decided")   # {"ts": ..., "level": "INFO", ..., "game_id": "...", "play_id": "..."}

``trace_id`` comes from the current OpenTelemetry span when tracing is on (or from ``log_context``).
:func:`connectors.log_redaction.configure_logging` picks this format with ``WIREREPORT_LOG_FORMAT=json``; the
redacting filter runs before the formatter, so a JSON line never carries what a text line would hide.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

CORRELATION_FIELDS = ("play_id", "game_id", "command_id", "trace_id")

_fields: dict[str, ContextVar[str | None]] = {name: ContextVar(name, default=None) for name in CORRELATION_FIELDS}


@contextmanager
def log_context(**ids: str | None) -> Iterator[None]:
    """Attach correlation ids to every log line inside the block (nested blocks add to or override them)."""
    unknown = set(ids) - set(CORRELATION_FIELDS)
    if unknown:
        raise ValueError(f"unknown log context field(s) {sorted(unknown)}: use {', '.join(CORRELATION_FIELDS)}")
    tokens = [(_fields[name], _fields[name].set(None if value is None else str(value))) for name, value in ids.items()]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


def current_ids() -> dict[str, str]:
    """The correlation ids known here (the current span's trace id when no ``trace_id`` was set)."""
    ids = {name: value for name, var in _fields.items() if (value := var.get()) is not None}
    if "trace_id" not in ids:
        trace_id = _current_trace_id()
        if trace_id:
            ids["trace_id"] = trace_id
    return ids


def _current_trace_id() -> str | None:
    trace = sys.modules.get("opentelemetry.trace")
    if trace is None:  # never imported: no span can be current, and a log line need not pay for the import
        return None
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None


class CorrelationFilter(logging.Filter):
    """Copies the known correlation ids onto each record (as attributes), for any formatter to use."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in current_ids().items():
            if getattr(record, name, None) is None:
                setattr(record, name, value)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: ts (UTC ISO 8601), level, logger, message, the correlation ids known, exc."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in CORRELATION_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                line[name] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exc"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, default=str, ensure_ascii=False)
