"""JSON log lines: correlation ids when known, redaction before formatting, text stays the default."""

from __future__ import annotations

import io
import json
import logging

import pytest

from connectors.log_redaction import REDACTED, configure_logging
from connectors.observability.logging_json import current_ids, log_context
from connectors.observability.tracing import in_memory_tracing


@pytest.fixture
def captured():
    """What configure_logging's handler writes (see ``configure``); the root logger restored afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield io.StringIO()
    root.handlers[:] = handlers
    root.setLevel(level)


def configure(stream: io.StringIO, *args, **kwargs) -> None:
    """configure_logging, its handler then pointed at ``stream`` (pytest swaps sys.stderr between phases)."""
    configure_logging(*args, **kwargs)
    (handler,) = [h for h in logging.getLogger().handlers if getattr(h, "_wirereport", False)]
    handler.setStream(stream)


def lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_lines_carry_the_known_ids(captured):
    configure(captured, "INFO", log_format="json")
    log = logging.getLogger("test.json")
    with log_context(game_id="2018090905", play_id="p-17"):
        log.info("decided %s", "tweet")
        with log_context(command_id="cmd-1"):
            log.warning("sent")
    log.info("outside")
    first, second, third = lines(captured)
    assert first["message"] == "decided tweet" and first["level"] == "INFO" and first["logger"] == "test.json"
    assert (first["game_id"], first["play_id"]) == ("2018090905", "p-17")
    assert "command_id" not in first
    assert (second["command_id"], second["game_id"]) == ("cmd-1", "2018090905")
    assert not {"game_id", "play_id", "command_id", "trace_id"} & set(third)
    assert first["ts"].endswith("+00:00")


def test_json_lines_are_redacted_too(captured):
    configure(captured, "INFO", secrets=["very-private-value-42"], log_format="json")
    log = logging.getLogger("test.json")
    log.warning("token=abc123 and very-private-value-42")
    try:
        raise RuntimeError("Bearer abc.def-123")
    except RuntimeError:
        log.exception("failed")
    warning, error = lines(captured)
    assert "abc123" not in warning["message"] and "very-private-value-42" not in warning["message"]
    assert REDACTED in warning["message"]
    assert "abc.def-123" not in error["exc"] and "RuntimeError" in error["exc"]


def test_trace_id_comes_from_the_current_span(captured):
    configure(captured, "INFO", log_format="json")
    tracing, exporter = in_memory_tracing("unit")
    with tracing.span("decide"):
        logging.getLogger("test.json").info("inside a span")
    (line,) = lines(captured)
    assert line["trace_id"] == format(exporter.get_finished_spans()[0].context.trace_id, "032x")


def test_text_is_the_default_and_unchanged(captured):
    configure(captured, "INFO", log_format=None)
    with log_context(game_id="g1"):
        logging.getLogger("test.text").info("plain %d", 1)
    assert captured.getvalue().rstrip().endswith("INFO test.text: plain 1")


def test_the_format_setting_is_read_when_not_given(captured, monkeypatch):
    from streams.settings import get_settings

    monkeypatch.setenv("WIREREPORT_LOG_FORMAT", "json")
    get_settings.cache_clear()
    try:
        configure(captured, "INFO")
        logging.getLogger("test.json").info("from the setting")
    finally:
        get_settings.cache_clear()
    assert lines(captured)[0]["message"] == "from the setting"


def test_bad_format_and_unknown_field_are_errors():
    with pytest.raises(ValueError, match="text or json"):
        configure_logging("INFO", log_format="xml")
    with pytest.raises(ValueError, match="unknown log context field"), log_context(user="x"):
        pass


def test_a_bad_format_call_does_not_raise_in_the_caller(captured):
    configure(captured, "INFO", log_format="json")
    (handler,) = [h for h in logging.getLogger().handlers if getattr(h, "_wirereport", False)]
    record = logging.LogRecord("test.json", logging.INFO, __file__, 1, "one arg too many", ("extra",), None)
    handler.handle(record)  # the filters run first: they must not raise
    assert lines(captured)[0]["message"] == "one arg too many ('extra',)"


def test_no_ids_outside_any_context():
    assert current_ids() == {}
