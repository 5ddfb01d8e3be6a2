"""Validate JSON lines against a topic's schema and produce them (the ``wirereport produce`` command)."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

from connectors.jsonl import read_jsonl
from connectors.kafka.edge import EdgeProducer
from connectors.observability.tracing import configure_tracing, record_sender
from schemas.exceptions import SchemaError
from schemas.json_form import from_json
from streams.exceptions import InvalidRecord, StreamsError
from streams.games.game_state import validate_play
from streams.health.system_metrics import validate_metrics
from streams.topics import topic

# Domain checks applied at the edge, beyond the schema (a bad record is reported, not sent).
_DOMAIN_CHECKS = {"Play": validate_play, "SystemMetrics": validate_metrics}


@dataclass
class ProduceResult:
    sent: int = 0
    invalid: int = 0


def produce_file(
    bootstrap: str, topic_name: str, path: str | Path, schema: str | None = None, rate: float = 0
) -> ProduceResult:
    """Produce every valid line of ``path``; report each invalid one on stderr as ``FILE:LINE: reason``."""
    spec = topic(topic_name)
    name = schema or spec.schema
    if name not in spec.value_schemas:
        raise StreamsError(f"topic {topic_name} carries {', '.join(spec.value_schemas)}, not {name}")
    check = _DOMAIN_CHECKS.get(name)
    result = ProduceResult()
    interval = 1.0 / rate if rate > 0 else 0.0
    next_at = time.monotonic()
    tracing = configure_tracing("producer")
    send = record_sender(tracing, topic_name, name)  # each record in a span that travels in its headers, if on
    with EdgeProducer(bootstrap) as producer:
        for number, obj in read_jsonl(path):
            try:
                if isinstance(obj, Exception):
                    raise obj
                record = from_json(name, obj)
                producer.codec.validate(name, record)
                if check:
                    check(record)
                send(producer, record)
            except (SchemaError, InvalidRecord, ValueError, KeyError, TypeError) as exc:
                result.invalid += 1
                print(f"{path}:{number}: {exc}", file=sys.stderr)
                continue
            result.sent += 1
            if interval:
                next_at += interval
                delay = next_at - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
    tracing.shutdown()
    return result
