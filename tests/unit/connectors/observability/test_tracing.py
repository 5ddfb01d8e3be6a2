"""Tracing across Kafka headers: a span injected by one tracer continues, with the same trace id, in another."""

from __future__ import annotations

import pytest
from opentelemetry import trace

from connectors.observability.tracing import (
    configure_tracing,
    extract_context,
    in_memory_tracing,
    inject_headers,
)


def test_a_trace_continues_from_producer_to_worker_to_publisher():
    producer, produced = in_memory_tracing("producer")
    worker, worked = in_memory_tracing("worker")
    publisher, published = in_memory_tracing("publisher")
    with producer.span("produce play", kind="producer"):
        headers = producer.inject([("source", b"feed")])
    assert headers[0] == ("source", b"feed") and headers[1][0] == "traceparent"
    with worker.span("decide", headers=headers, kind="consumer"):
        command_headers = worker.inject()
    with publisher.span("post tweet", headers=command_headers, kind="consumer"):
        pass
    (p,), (w,), (t,) = produced.get_finished_spans(), worked.get_finished_spans(), published.get_finished_spans()
    assert p.context.trace_id == w.context.trace_id == t.context.trace_id
    assert w.parent.span_id == p.context.span_id and t.parent.span_id == w.context.span_id
    assert w.resource.attributes["service.name"] == "worker"


def test_headers_may_be_a_mapping_and_values_text_or_bytes():
    tracing, exporter = in_memory_tracing("unit")
    with tracing.span("a"):
        ((name, value),) = inject_headers()
    context = trace.get_current_span(extract_context({name: value.decode()})).get_span_context()
    assert context.is_valid and context.trace_id == exporter.get_finished_spans()[0].context.trace_id


def test_injecting_twice_replaces_the_old_traceparent():
    tracing, _ = in_memory_tracing("unit")
    with tracing.span("first"):
        headers = tracing.inject()
    with tracing.span("second"):
        headers = tracing.inject(headers)
    assert [name for name, _ in headers] == ["traceparent"]


@pytest.mark.parametrize("headers", [None, [], [("traceparent", b"garbage")], {"other": b"1"}])
def test_no_or_bad_context_starts_a_new_trace(headers):
    tracing, exporter = in_memory_tracing("unit")
    with tracing.span("consume", headers=headers):
        pass
    (span,) = exporter.get_finished_spans()
    assert span.parent is None


def test_off_creates_no_span_and_leaves_headers_alone():
    off = configure_tracing("unit", mode="off")
    assert not off.enabled
    with off.span("nothing") as span:
        assert span is None
        assert not trace.get_current_span().get_span_context().is_valid
    assert off.inject([("a", b"1")]) == [("a", b"1")]


def test_console_and_otlp_exporters_configure(capsys):
    console = configure_tracing("unit", mode="console")
    with console.span("shown"):
        pass
    console.shutdown()
    assert '"name": "shown"' in capsys.readouterr().err  # stderr: stdout carries the processes' ready lines
    otlp = configure_tracing("unit", mode="otlp", endpoint="http://127.0.0.1:1/v1/traces")
    assert otlp.enabled
    otlp.provider.shutdown()


def test_the_setting_picks_the_mode(monkeypatch):
    from streams.settings import get_settings

    monkeypatch.setenv("WIREREPORT_TRACING", "console")
    get_settings.cache_clear()
    try:
        assert configure_tracing("unit").enabled
    finally:
        get_settings.cache_clear()
    with pytest.raises(ValueError, match="tracing 'zipkin'"):
        configure_tracing("unit", mode="zipkin")


class RecordingProducer:
    def __init__(self):
        self.sent = []

    def send(self, topic_name, record, *, schema=None, headers=None):
        self.sent.append((topic_name, record["play_id"], schema, headers))
