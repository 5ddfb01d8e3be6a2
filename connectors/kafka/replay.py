"""Replays a recorded JSON-lines file into a topic, paced by the records' own timestamps."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from connectors.jsonl import read_jsonl
from connectors.kafka.edge import EdgeProducer
from schemas.exceptions import SchemaError
from schemas.json_form import from_json, parse_timestamp
from streams.topics import topic

log = logging.getLogger(__name__)


@dataclass
class ReplayResult:
    sent: int = 0
    invalid: int = 0
    seconds: float = 0.0


def replay_file(
    bootstrap: str,
    topic_name: str,
    path: str | Path,
    *,
    speed: float = 60.0,
    time_field: str | None = None,
    schema: str | None = None,
    progress: Callable[[int, dict], None] | None = None,
) -> ReplayResult:
    """Produce the records of ``path`` in file order; wait between them ``Δt / speed`` (``speed`` 0 = no wait).

    ``time_field`` defaults to the schema's first timestamp field (``occurred_at`` for plays).
    """
    spec = topic(topic_name)
    name = schema or spec.schema
    result = ReplayResult()
    started = time.monotonic()
    first_ts = None
    with EdgeProducer(bootstrap) as producer:
        field = time_field or _first_timestamp_field(producer.codec.registry.latest(name).raw)
        for number, obj in read_jsonl(path):
            try:
                if isinstance(obj, Exception):
                    raise obj
                record = from_json(name, obj)
            except (SchemaError, ValueError) as exc:
                result.invalid += 1
                log.warning("%s:%d: %s", path, number, exc)
                continue
            if speed > 0 and field:
                ts = parse_timestamp(record[field]).timestamp()
                first_ts = ts if first_ts is None else first_ts
                delay = started + (ts - first_ts) / speed - time.monotonic()
                if delay > 0:
                    producer.flush()
                    time.sleep(delay)
            producer.send(topic_name, record, schema=name)
            result.sent += 1
            if progress:
                progress(result.sent, record)
    result.seconds = time.monotonic() - started
    return result


def _first_timestamp_field(raw_schema: dict) -> str | None:
    for f in raw_schema["fields"]:
        t = f["type"]
        if isinstance(t, dict) and t.get("logicalType", "").startswith("timestamp"):
            return f["name"]
    return None
