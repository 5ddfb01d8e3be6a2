"""OpenTelemetry tracing across Kafka: a span started where a record is produced continues where it is consumed.

``configure_tracing(service)`` reads ``WIREREPORT_TRACING`` (``off`` by default, ``console`` or ``otlp`` with
``WIREREPORT_OTLP_ENDPOINT``) and returns a :class:`Tracing`. The W3C trace context travels in Kafka headers,
a list of ``(str, bytes)`` tuples as confluent-kafka and aiokafka take them (Faust's mapping works too)::

    tracing = configure_tracing("producer")
    with tracing.span("produce play") as span:
        producer.produce(topic, value, headers=tracing.inject([]))
    ...
    with tracing.span("decide", headers=message.headers()):   # same trace id as the producer's span
        ...

Off costs nothing: :meth:`Tracing.span` yields ``None`` without creating a span, ``inject`` returns the headers
untouched. Each ``Tracing`` has its own ``TracerProvider`` (no global one), so tests can run several.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.propagators.textmap import Getter, Setter
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

TRACING_MODES = ("off", "console", "otlp")

Headers = Sequence[tuple[str, bytes]] | Mapping[str, bytes] | None

_PROPAGATOR = TraceContextTextMapPropagator()


class _KafkaHeadersGetter(Getter):
    """Reads header values (bytes or str) from a list of tuples or a mapping; the last of repeated keys wins."""

    def get(self, carrier: Headers, key: str) -> list[str] | None:
        values = [value for name, value in _items(carrier) if name.lower() == key.lower()]
        if not values:
            return None
        return [_text(values[-1])]

    def keys(self, carrier: Headers) -> list[str]:
        return [name for name, _ in _items(carrier)]


class _KafkaHeadersSetter(Setter):
    def set(self, carrier: list[tuple[str, bytes]], key: str, value: str) -> None:
        carrier[:] = [(name, v) for name, v in carrier if name.lower() != key.lower()]
        carrier.append((key, value.encode()))


def _items(carrier: Headers) -> list[tuple[str, Any]]:
    if not carrier:
        return []
    if isinstance(carrier, Mapping):
        return list(carrier.items())
    return list(carrier)


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes | bytearray) else str(value)


_GETTER = _KafkaHeadersGetter()
_SETTER = _KafkaHeadersSetter()


def inject_headers(headers: Headers = None, context: Context | None = None) -> list[tuple[str, bytes]]:
    """``headers`` as a new list of tuples with the W3C ``traceparent`` (and ``tracestate``) of ``context``
    (default: the current span's) added; unchanged when there is no valid span."""
    carrier = _items(headers)
    _PROPAGATOR.inject(carrier, context=context, setter=_SETTER)
    return carrier


def extract_context(headers: Headers) -> Context:
    """The trace context carried in Kafka ``headers`` (an empty context when there is none or it is malformed)."""
    return _PROPAGATOR.extract(headers or [], getter=_GETTER)


class Tracing:
    """Spans for one service; ``provider=None`` is tracing off."""

    def __init__(self, service: str, provider: Any | None = None):
        self.service = service
        self.provider = provider
        self._tracer = provider.get_tracer("wirereport", schema_url=None) if provider is not None else None

    @property
    def enabled(self) -> bool:
        return self._tracer is not None

    @contextmanager
    def span(
        self, name: str, headers: Headers = None, attributes: Mapping[str, Any] | None = None, kind: str = "internal"
    ) -> Iterator[Any]:
        """A span (the current one inside the block), child of the trace in ``headers`` if they carry one, else of
        the current span. Yields the span, or ``None`` when tracing is off."""
        if self._tracer is None:
            yield None
            return
        context = extract_context(headers) if headers else None
        with self._tracer.start_as_current_span(
            name, context=context, kind=_KINDS[kind], attributes=dict(attributes or {})
        ) as span:
            yield span

    def inject(self, headers: Headers = None) -> list[tuple[str, bytes]]:
        """The current trace context added to ``headers`` (a new list); off: ``headers`` as a list, untouched."""
        if self._tracer is None:
            return _items(headers)
        return inject_headers(headers)

    def shutdown(self) -> None:
        """Export what is still buffered; call once when the process stops."""
        if self.provider is not None:
            self.provider.shutdown()


_KINDS = {
    "internal": trace.SpanKind.INTERNAL,
    "producer": trace.SpanKind.PRODUCER,
    "consumer": trace.SpanKind.CONSUMER,
    "server": trace.SpanKind.SERVER,
    "client": trace.SpanKind.CLIENT,
}

OFF = Tracing("off")


def configure_tracing(service: str, mode: str | None = None, endpoint: str | None = None) -> Tracing:
    """Tracing for ``service`` as the settings say (``mode``/``endpoint`` override ``WIREREPORT_TRACING`` and
    ``WIREREPORT_OTLP_ENDPOINT``). The SDK and exporters are imported only when tracing is on."""
    if mode is None:
        from streams.settings import get_settings

        settings = get_settings()
        mode, endpoint = settings.tracing, endpoint or settings.otlp_endpoint
    if mode not in TRACING_MODES:
        raise ValueError(f"tracing {mode!r} is not one of {', '.join(TRACING_MODES)}")
    if mode == "off":
        return Tracing(service)
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

    if mode == "console":
        exporter = ConsoleSpanExporter(service_name=service, out=sys.stderr)  # stdout carries ready lines
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(endpoint=endpoint) if endpoint else OTLPSpanExporter()
    provider = _provider(service)
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return Tracing(service, provider)


def record_sender(tracing: Tracing, topic_name: str, schema: str):
    """``send(producer, record)`` for an edge producer: with tracing on, each record is sent in a producer span
    whose context travels in the record's headers (its trace starts here); off, a plain ``producer.send``."""
    if not tracing.enabled:

        def send_plain(producer, record: dict) -> None:
            producer.send(topic_name, record, schema=schema)

        return send_plain

    def send_traced(producer, record: dict) -> None:
        attributes = {"messaging.destination.name": topic_name, "wirereport.schema": schema}
        for field in ("play_id", "game_id"):
            if record.get(field) is not None:
                attributes[f"wirereport.{field}"] = str(record[field])
        with tracing.span(f"produce {topic_name}", attributes=attributes, kind="producer"):
            producer.send(topic_name, record, schema=schema, headers=tracing.inject())

    return send_traced


def in_memory_tracing(service: str) -> tuple[Tracing, Any]:
    """Tracing whose finished spans land, synchronously, in the returned ``InMemorySpanExporter`` (for tests:
    ``exporter.get_finished_spans()``)."""
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = _provider(service)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return Tracing(service, provider), exporter


def _provider(service: str):
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider

    return TracerProvider(resource=Resource.create({SERVICE_NAME: service}))
