"""Validate JSON lines against a topic's schema and the domain's bounds, then produce them (``wirereport produce``).

Every line is checked before anything is produced: decoded from JSON, checked against the Avro schema and the
domain's bounds (the validators the agents run on the same topic), encoded, and measured against the broker's
message limit. A bad line is reported as ``FILE:LINE: reason`` and skipped; the valid lines are produced, in
file order, whatever comes after them.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from connectors.jsonl import read_jsonl
from connectors.kafka.edge import EdgeProducer
from connectors.observability.tracing import configure_tracing
from schemas.codec import Codec, get_codec
from schemas.exceptions import SchemaError
from schemas.json_form import from_json
from streams.deployments.validation import validate_deployment_event
from streams.exceptions import InvalidRecord, StreamsError
from streams.games.game_state import validate_play, validate_scheduled_game
from streams.health.system_metrics import validate_metrics, validate_silence
from streams.scaling.policy import validate_scaling_input
from streams.topics import TopicSpec, topic

# librdkafka's default message.max.bytes (the broker's is about the same): a message over it is refused by the
# producer itself. A line must leave room for the record batch's own fields.
MAX_MESSAGE_BYTES = 1_000_000
MESSAGE_OVERHEAD_BYTES = 1024

# Domain checks applied at the edge, beyond the schema (a bad record is reported, not sent).
DOMAIN_CHECKS: dict[str, Callable[[dict[str, Any]], None]] = {
    "Play": validate_play,
    "ScheduledGame": validate_scheduled_game,
    "SystemMetrics": validate_metrics,
    "LeagueEvent": lambda record: validate_scaling_input("LeagueEvent", record),
    "ScalingOverride": lambda record: validate_scaling_input("ScalingOverride", record),
    "Silence": validate_silence,
    "DeploymentEvent": validate_deployment_event,
}


@dataclass
class ProduceResult:
    sent: int = 0
    invalid: int = 0


@dataclass(frozen=True)
class Encoded:
    """A validated line, ready to produce."""

    key: bytes
    value: bytes
    partition: int | None
    ids: dict[str, str]  # the record's play and game ids, for a trace's attributes


def encode_line(codec: Codec, spec: TopicSpec, schema: str, obj: Any) -> Encoded:
    """A JSON line's record checked and encoded for ``spec``; ``InvalidRecord`` (or ``SchemaError``) says why not."""
    if isinstance(obj, Exception):  # the line is not JSON
        raise InvalidRecord(str(obj))
    if not isinstance(obj, dict):
        raise InvalidRecord(f"not a JSON object but {type(obj).__name__}")
    record = from_json(schema, obj)
    codec.validate(schema, record)
    check = DOMAIN_CHECKS.get(schema)
    if check is not None:
        check(record)
    key = spec.key_of(record).encode()
    value = codec.encode(schema, record)
    size = len(key) + len(value)
    if size > MAX_MESSAGE_BYTES - MESSAGE_OVERHEAD_BYTES:
        raise InvalidRecord(
            f"the record encodes to {size} bytes, over the broker's message limit"
            f" ({MAX_MESSAGE_BYTES - MESSAGE_OVERHEAD_BYTES} bytes with its batch's fields)"
        )
    ids = {f"wirereport.{f}": str(record[f]) for f in ("play_id", "game_id") if record.get(f) is not None}
    return Encoded(key, value, spec.partition_of(record), ids)


def validate_file(
    path: str | Path, spec: TopicSpec, schema: str, codec: Codec, report: Callable[[str], None]
) -> tuple[list[Encoded], int]:
    """``(valid lines encoded, in order; how many were invalid)``; each invalid one is reported."""
    valid: list[Encoded] = []
    invalid = 0
    for number, obj in read_jsonl(path):
        try:
            valid.append(encode_line(codec, spec, schema, obj))
        except (SchemaError, InvalidRecord) as exc:
            invalid += 1
            report(f"{path}:{number}: {exc}")
        except Exception as exc:  # contained: a record the checks did not foresee is still only a bad line
            invalid += 1
            report(f"{path}:{number}: {type(exc).__name__}: {exc}")
    return valid, invalid


def produce_file(
    bootstrap: str, topic_name: str, path: str | Path, schema: str | None = None, rate: float = 0
) -> ProduceResult:
    """Produce every valid line of ``path``; report each invalid one on stderr as ``FILE:LINE: reason``."""
    spec = topic(topic_name)
    name = schema or spec.schema
    if name not in spec.value_schemas:
        raise StreamsError(f"topic {topic_name} carries {', '.join(spec.value_schemas)}, not {name}")
    valid, invalid = validate_file(path, spec, name, get_codec(), lambda line: print(line, file=sys.stderr))
    result = ProduceResult(invalid=invalid)
    interval = 1.0 / rate if rate > 0 else 0.0
    next_at = time.monotonic()
    tracing = configure_tracing("producer")
    with EdgeProducer(bootstrap) as producer:
        for line in valid:
            if tracing.enabled:  # each record in a producer span whose context travels in its headers
                attributes = {"messaging.destination.name": topic_name, "wirereport.schema": name, **line.ids}
                with tracing.span(f"produce {topic_name}", attributes=attributes, kind="producer"):
                    producer.send_raw(spec, line.key, line.value, line.partition, headers=tracing.inject())
            else:
                producer.send_raw(spec, line.key, line.value, line.partition)
            result.sent += 1
            if interval:
                next_at += interval
                delay = next_at - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
    tracing.shutdown()
    return result
