"""Edge clients (confluent-kafka): a validating, idempotent producer and a decoding consumer, and
``wirereport produce``'s file producer.

A file is checked whole before anything is produced: every line decoded from JSON, checked against the Avro
schema and the domain's bounds (the validators the agents run on the same topic), encoded, and measured against
the broker's message limit. A bad line is reported as ``FILE:LINE: reason`` and skipped; the valid lines are
produced, in file order, whatever comes after them.
"""

from __future__ import annotations

import logging
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Producer, TopicPartition

from connectors.exceptions import BrokerUnavailable
from connectors.jsonl import read_jsonl
from schemas.codec import Codec, get_codec
from schemas.exceptions import SchemaError
from schemas.json_form import from_json
from streams.deployments.validation import validate_deployment_event
from streams.exceptions import InvalidRecord, StreamsError
from streams.games.game_state import validate_play, validate_scheduled_game
from streams.health.system_metrics import validate_metrics, validate_silence
from streams.runtime.kafka_security import confluent_security_config
from streams.scaling.validation import validate_scaling_input
from streams.settings import get_settings
from streams.topics import TopicSpec, topic

log = logging.getLogger(__name__)


class _LibrdkafkaLog(logging.LoggerAdapter):
    """librdkafka's own log lines, all at DEBUG (shown with ``wirereport -v``).

    Without it an unreachable broker prints hundreds of ``Connection refused`` lines; what matters reaches
    the caller anyway, as an exception, a delivery error or an ``error_cb`` call.
    """

    def log(self, level, msg, *args, **kwargs):
        self.logger.log(logging.DEBUG, msg, *args, **kwargs)


def librdkafka_logger() -> logging.LoggerAdapter:
    """The ``logger`` to give every confluent-kafka client (producer, consumer, admin)."""
    return _LibrdkafkaLog(logging.getLogger("librdkafka"), {})


class EdgeProducer:
    """Produces records of a topic's schema with the topic's key (and partition rule); idempotent."""

    def __init__(self, bootstrap: str, codec: Codec | None = None, **config: Any):
        self.codec = codec or get_codec()
        self.bootstrap = bootstrap
        self._errors: list[str] = []
        conf = {
            "bootstrap.servers": bootstrap,
            "enable.idempotence": True,
            "linger.ms": 5,
            "message.timeout.ms": 30000,
            "error_cb": self._on_error,
            "logger": librdkafka_logger(),
            **confluent_security_config(get_settings()),
        }
        conf.update(config)
        self._conf = conf
        self._producer = Producer(conf)

    def renew(self) -> None:
        """Go on with a new client (whoever holds this producer keeps it). After the broker lost its data, an
        idempotent client that lived through the loss is refused (its producer id and sequence numbers are unknown
        there); what it still held for the old topics is dropped with them."""
        self._producer = Producer(self._conf)
        self._errors = []

    def _on_error(self, err: KafkaError) -> None:
        if err.fatal():
            self._errors.append(err.str())
        log.debug("producer error: %s", err.str())

    def _on_delivery(self, err, _msg) -> None:
        if err is not None:
            self._errors.append(err.str())

    def send(
        self,
        topic_name: str,
        record: dict[str, Any],
        *,
        schema: str | None = None,
        validate: bool = False,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> None:
        """Encode ``record`` (schema defaults to the topic's main one) and produce it with its key (and ``headers``,
        e.g. a trace context)."""
        spec = topic(topic_name)
        name = schema or spec.schema
        value = self.codec.encode(name, record, validate_first=validate)
        self.send_raw(spec, spec.key_of(record).encode(), value, spec.partition_of(record), headers)

    def send_raw(
        self,
        spec: TopicSpec | str,
        key: bytes | None,
        value: bytes,
        partition: int | None = None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> None:
        """Produce bytes as they are (used for replay, tests, and dead letters)."""
        name = spec if isinstance(spec, str) else spec.name
        kwargs = {"partition": partition} if partition is not None else {}
        if headers:
            kwargs["headers"] = headers
        while True:
            try:
                self._producer.produce(name, value=value, key=key, on_delivery=self._on_delivery, **kwargs)
                break
            except BufferError:
                self._producer.poll(0.05)
        self._producer.poll(0)

    def dead_letter(self, msg: Any, reason: str, agent: str) -> None:
        """Send a consumed message that could not be handled to ``dead-letters`` with its origin and reason."""
        self.send(
            "dead-letters",
            {
                "source_topic": msg.topic(),
                "partition": msg.partition(),
                "offset": msg.offset(),
                "key": msg.key(),
                "value": msg.value() or b"",
                "reason": reason[:1000],
                "agent": agent,
                "failed_at": datetime.now(UTC),
            },
        )

    def flush(self, timeout: float = 30.0) -> None:
        """Wait until every message is acknowledged; raise if any failed."""
        remaining = self._producer.flush(timeout)
        if remaining:
            raise BrokerUnavailable(f"{remaining} message(s) not delivered to {self.bootstrap} in {timeout:.0f}s")
        if self._errors:
            errors, self._errors = self._errors, []
            raise BrokerUnavailable(f"delivery failed: {errors[0]} ({len(errors)} error(s))")

    def close(self) -> None:
        self.flush()

    def __enter__(self) -> EdgeProducer:
        return self

    def __exit__(self, exc_type, *_):
        if exc_type is None:
            self.flush()


def new_consumer(bootstrap: str, group_id: str | None = None, **config: Any) -> Consumer:
    """A confluent-kafka consumer with our defaults (manual commits, librdkafka logs through ``logging``)."""
    conf = {
        "bootstrap.servers": bootstrap,
        "group.id": group_id or f"wirereport-{uuid.uuid4().hex[:8]}",
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "enable.partition.eof": False,
        "fetch.wait.max.ms": 50,  # the embedded broker answers a fetch only when this wait is over
        "logger": librdkafka_logger(),
        **confluent_security_config(get_settings()),
    }
    conf.update(config)
    return Consumer(conf)


def partitions_of(consumer: Consumer, bootstrap: str, topic_name: str) -> list[int]:
    """The topic's partition numbers; ``BrokerUnavailable`` with a readable reason if it cannot be had."""
    try:
        meta = consumer.list_topics(topic_name, timeout=10)
    except KafkaException as exc:
        raise BrokerUnavailable(f"cannot reach Kafka at {bootstrap}: {exc.args[0]}") from None
    partitions = sorted(meta.topics[topic_name].partitions) if topic_name in meta.topics else []
    if not partitions:
        raise BrokerUnavailable(f"topic {topic_name!r} does not exist on {bootstrap} (run: wirereport topics create)")
    return partitions


def assigned_consumer(
    bootstrap: str,
    topics: list[str],
    start: int | str | dict[tuple[str, int], int] = OFFSET_BEGINNING,
    group_id: str | None = None,
    **config: Any,
) -> Consumer:
    """A consumer with every partition of ``topics`` assigned directly (no group join to wait for).

    ``start`` is an offset for all partitions (e.g. ``OFFSET_BEGINNING``), ``"end"`` for the current end, or a
    mapping ``(topic, partition) -> next offset`` (positions an effector stored itself; others start at the
    beginning).
    """
    consumer = new_consumer(bootstrap, group_id, **config)
    try:
        assignment = []
        for name in topics:
            for p in partitions_of(consumer, bootstrap, name):
                if isinstance(start, dict):
                    offset = start.get((name, p), OFFSET_BEGINNING)
                elif start == "end":
                    offset = consumer.get_watermark_offsets(TopicPartition(name, p), timeout=10)[1]
                else:
                    offset = start
                assignment.append(TopicPartition(name, p, offset))
        consumer.assign(assignment)
    except BaseException:
        consumer.close()
        raise
    return consumer


def consume_raw(
    bootstrap: str,
    topic_name: str,
    *,
    from_beginning: bool = True,
    max_messages: int | None = None,
    timeout: float = 10.0,
    group_id: str | None = None,
) -> Iterator[Any]:
    """Yield raw messages of a topic until ``max_messages`` or ``timeout`` seconds without a new one.

    Without a ``group_id`` partitions are assigned directly (no group join), which is fast on any broker.
    """
    conf = {
        "enable.auto.commit": group_id is not None,
        "auto.offset.reset": "earliest" if from_beginning else "latest",
    }
    if group_id is None:
        consumer = assigned_consumer(bootstrap, [topic_name], OFFSET_BEGINNING if from_beginning else "end", **conf)
    else:
        consumer = new_consumer(bootstrap, group_id, **conf)
        try:
            partitions_of(consumer, bootstrap, topic_name)
        except BrokerUnavailable:
            consumer.close()
            raise
        consumer.subscribe([topic_name])
    try:
        seen = 0
        deadline = time.monotonic() + timeout
        while max_messages is None or seen < max_messages:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            msg = consumer.poll(min(remaining, 0.5))
            if msg is None:
                continue
            if msg.error():
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    continue
                raise BrokerUnavailable(f"consume failed: {msg.error().str()}")
            seen += 1
            deadline = time.monotonic() + timeout
            yield msg
    finally:
        consumer.close()


def consume_records(bootstrap: str, topic_name: str, **kwargs: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    """Like :func:`consume_raw` but yields decoded ``(schema name, record)``; undecodable ones are skipped with a warning."""
    codec = get_codec()
    allowed = topic(topic_name).value_schemas
    for msg in consume_raw(bootstrap, topic_name, **kwargs):
        try:
            yield codec.decode(msg.value(), allowed)
        except SchemaError as exc:
            log.warning("%s[%d]@%d undecodable: %s", topic_name, msg.partition(), msg.offset(), exc)


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
    from connectors.observability.tracing import configure_tracing

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
