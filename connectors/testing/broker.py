"""A throwaway embedded broker with every declared topic created."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from connectors.kafka.admin import create_topics
from connectors.kafka.broker import EmbeddedBroker, free_port


@contextmanager
def running_broker(create: bool = True) -> Iterator[str]:
    """Start Tansu on a free port, create the topics, yield the bootstrap address, stop it afterwards."""
    with EmbeddedBroker(free_port()) as broker:
        if create:
            create_topics(broker.bootstrap)
        yield broker.bootstrap
