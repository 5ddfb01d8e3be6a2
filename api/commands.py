"""Admin actions become Kafka commands: deterministic ids, produced off the event loop, acknowledged before 202."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import threading
from datetime import UTC, datetime
from typing import Any

from connectors.exceptions import BrokerUnavailable
from connectors.kafka.edge import EdgeProducer
from schemas.codec import get_codec
from schemas.exceptions import SchemaError
from schemas.json_form import from_json, to_json


def command_id(prefix: str, subject: str, cause: dict[str, Any], idempotency_key: str | None = None) -> str:
    """A deterministic id: the same request (or the same ``Idempotency-Key``) by the same caller gives the same id,
    so a client retry after a timeout is deduplicated downstream instead of acting twice."""
    basis = idempotency_key if idempotency_key else json.dumps(cause, sort_keys=True, default=str)
    digest = hashlib.sha256(f"{prefix}|{subject}|{basis}".encode()).hexdigest()[:24]
    return f"{prefix}-{digest}"


def build_record(schema: str, fields: dict[str, Any]) -> dict[str, Any]:
    """A record of ``schema`` from JSON-form ``fields``: unknown fields dropped, defaults filled, timestamps parsed."""
    names = {f["name"] for f in get_codec().registry.latest(schema).raw["fields"]}
    record = from_json(schema, {k: v for k, v in fields.items() if k in names})
    for key, value in record.items():  # Avro keeps milliseconds: answer with what Kafka will hold
        if isinstance(value, datetime):
            record[key] = value.replace(microsecond=value.microsecond // 1000 * 1000)
    return record


class CommandSender:
    """Produces command records with one shared confluent-kafka producer, from a worker thread."""

    def __init__(self, bootstrap: str, ack_timeout: float = 5.0):
        self.bootstrap = bootstrap
        self.ack_timeout = ack_timeout
        self._producer: EdgeProducer | None = None
        self._lock = threading.Lock()

    def _get(self) -> EdgeProducer:
        with self._lock:
            if self._producer is None:
                self._producer = EdgeProducer(self.bootstrap, **{"message.timeout.ms": 60000})
            return self._producer

    def _send_sync(self, topic: str, schema: str, record: dict[str, Any]) -> None:
        producer = self._get()
        producer.send(topic, record, schema=schema, validate=True)
        producer.flush(self.ack_timeout)

    async def send(self, topic: str, schema: str, record: dict[str, Any]) -> dict[str, Any]:
        """Produce ``record`` and wait for the broker's ack (raises ``BrokerUnavailable``); return its JSON form."""
        try:
            await asyncio.to_thread(self._send_sync, topic, schema, record)
        except (BrokerUnavailable, SchemaError):
            raise
        except Exception as exc:  # librdkafka errors become one readable reason
            raise BrokerUnavailable(f"command not accepted by Kafka: {exc}") from None
        return to_json(schema, record)

    def close(self) -> None:
        with self._lock:
            producer, self._producer = self._producer, None
        if producer is not None:
            with contextlib.suppress(BrokerUnavailable):
                producer.flush(2.0)


def publisher_control(
    action: str,
    account: str,
    requested_by: str,
    reason: str,
    command: str | None = None,
    idempotency_key: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """A PublisherControl record: its id is deterministic for the same request at the same moment (or the same
    ``Idempotency-Key``), so a client retry is applied once by the publisher."""
    now = now or datetime.now(UTC)
    cause = {"action": action, "account": account, "command_id": command, "reason": reason}
    if not idempotency_key:
        cause["requested_at"] = now.isoformat()
    return build_record(
        "PublisherControl",
        {
            **cause,
            "control_id": command_id("control", requested_by, cause, idempotency_key),
            "requested_by": requested_by,
            "requested_at": now,
        },
    )
