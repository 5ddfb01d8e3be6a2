"""Topic administration on the configured cluster (confluent-kafka AdminClient)."""

from __future__ import annotations

import logging

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from connectors.exceptions import BrokerUnavailable
from connectors.kafka.edge import librdkafka_logger
from streams.runtime.kafka_security import confluent_security_config
from streams.runtime.kafka_security import describe as describe_security
from streams.settings import get_settings
from streams.topics import TOPICS, TopicSpec

log = logging.getLogger(__name__)


def admin_client(bootstrap: str, security_errors: list[str] | None = None) -> AdminClient:
    """An AdminClient with the configured security; TLS and SASL failures are appended to ``security_errors``."""

    def on_error(err: KafkaError) -> None:
        if security_errors is not None and err.code() in (KafkaError._AUTHENTICATION, KafkaError._SSL):
            security_errors.append(err.str())

    conf = {"bootstrap.servers": bootstrap, "socket.timeout.ms": 5000, "logger": librdkafka_logger()}
    return AdminClient({**conf, "error_cb": on_error, **confluent_security_config(get_settings())})


def existing_topics(bootstrap: str, timeout: float = 10.0) -> dict[str, int]:
    """Topic name -> partition count on the cluster."""
    security_errors: list[str] = []
    client = admin_client(bootstrap, security_errors)
    try:
        meta = client.list_topics(timeout=timeout)
    except KafkaException as exc:
        client.poll(0)  # serves the queued error callbacks
        if security_errors:  # the cause, not librdkafka's generic "Broker transport failure"
            how = describe_security(get_settings())
            raise BrokerUnavailable(f"Kafka at {bootstrap} refused {how}: {security_errors[-1]}") from None
        raise BrokerUnavailable(f"cannot reach Kafka at {bootstrap}: {exc.args[0]}") from None
    return {name: len(t.partitions) for name, t in meta.topics.items()}


def create_topics(
    bootstrap: str, specs: list[TopicSpec] | None = None, replication_factor: int = 1, timeout: float = 15.0
) -> list[str]:
    """Create the declared topics that do not exist yet (idempotent); return the names created."""
    specs = list(TOPICS.values()) if specs is None else specs
    existing = existing_topics(bootstrap, timeout)
    wanted = [s for s in specs if s.name not in existing]
    for spec in specs:
        if spec.name in existing and existing[spec.name] != spec.partitions:
            log.warning("topic %s has %d partitions, declared %d", spec.name, existing[spec.name], spec.partitions)
    if not wanted:
        return []
    new = [
        NewTopic(
            s.name,
            num_partitions=s.partitions,
            replication_factor=replication_factor,
            config={"cleanup.policy": "compact"} if s.compacted else {},
        )
        for s in wanted
    ]
    client = admin_client(bootstrap)  # keep a reference: the futures die with the client
    futures = client.create_topics(new, operation_timeout=timeout)
    created = []
    for name, future in futures.items():
        try:
            future.result(timeout)
            created.append(name)
        except KafkaException as exc:
            if "TOPIC_ALREADY_EXISTS" in str(exc):
                continue
            raise BrokerUnavailable(f"cannot create topic {name}: {exc.args[0]}") from None
    return sorted(created)
