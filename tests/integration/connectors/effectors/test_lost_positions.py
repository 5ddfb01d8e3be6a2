"""The effector base after the broker lost its data: stored positions the new topics do not have are noticed,
said once (a log line and an alert), and read again from the new beginning; positions the broker has are kept.
A running effector and the worker's check notice a restart under them too."""

from __future__ import annotations

import logging

from connectors.effectors.base import BROKER_LOST_ALERT
from connectors.kafka.admin import create_topics
from connectors.kafka.broker import EmbeddedBroker, free_port
from connectors.kafka.edge import consume_records
from connectors.local.broker_watch import BrokerPositionsCheck
from tests.integration.connectors.effectors.test_base import (  # noqa: F401
    PARTITION,
    TOPIC,
    Recording,
    command,
    new_store,
    own_broker,
    produce,
    step_until,
)


def test_positions_the_broker_has_are_kept(own_broker):  # noqa: F811
    produce(own_broker, command("a"), command("b"))
    store = new_store()
    first = Recording(own_broker, store)
    step_until(first, lambda: store["done"] == ["a", "b"])
    first.close()

    produce(own_broker, command("c"))
    again = Recording(own_broker, store)
    step_until(again, lambda: store["done"] == ["a", "b", "c"])
    again.close()
    assert again.lost_positions == {}


def test_a_broker_restarted_empty_is_noticed_and_the_new_topic_read_from_its_beginning(caplog):
    port = free_port()
    store = new_store()
    with EmbeddedBroker(port) as broker:
        create_topics(broker.bootstrap)
        produce(broker.bootstrap, command("a"), command("b"), command("c"))
        first = Recording(broker.bootstrap, store)
        step_until(first, lambda: store["done"] == ["a", "b", "c"])
        first.close()
    assert store["positions"] == {(TOPIC, PARTITION): 3}

    with EmbeddedBroker(port) as broker:  # the same address, nothing kept
        create_topics(broker.bootstrap)
        produce(broker.bootstrap, command("d"))
        with caplog.at_level(logging.ERROR, logger="connectors.effectors.base"):
            restarted = Recording(broker.bootstrap, store)
            step_until(restarted, lambda: store["done"][3:] == ["d"])
        restarted.close()
        alerts = [r for _, r in consume_records(broker.bootstrap, "alerts", timeout=1.0)]

    assert restarted.lost_positions == {(TOPIC, PARTITION): (3, 1)}
    assert store["positions"] == {(TOPIC, PARTITION): 1}
    said = [r.getMessage() for r in caplog.records if "the broker lost data" in r.getMessage()]
    assert len(said) == 1 and "tweet-commands[0] at 3 (end now 1)" in said[0]
    assert [(a["alertname"], a["status"], a["labels"]) for a in alerts] == [
        (BROKER_LOST_ALERT, "firing", {"source": "test-effector"})
    ]


def test_an_effector_running_through_a_broker_restart_notices_it(caplog, monkeypatch):
    monkeypatch.setattr("connectors.effectors.base.CHECK_SECONDS", 0.2)
    port = free_port()
    store = new_store()
    broker = EmbeddedBroker(port).start()
    try:
        create_topics(broker.bootstrap)
        produce(broker.bootstrap, command("a"), command("b"), command("c"))
        running = Recording(broker.bootstrap, store)
        step_until(running, lambda: store["done"] == ["a", "b", "c"])
        broker.stop()
        broker = EmbeddedBroker(port).start()  # the same address, nothing kept; the effector is not restarted
        create_topics(broker.bootstrap)
        produce(broker.bootstrap, command("d"))
        with caplog.at_level(logging.ERROR, logger="connectors.effectors.base"):
            step_until(running, lambda: "d" in store["done"] and running.lost_positions)
        running.close()
        alerts = [r for _, r in consume_records(broker.bootstrap, "alerts", timeout=1.0)]
    finally:
        broker.stop()

    assert running.lost_positions == {(TOPIC, PARTITION): (3, 1)}
    said = [r.getMessage() for r in caplog.records if "the broker lost data" in r.getMessage()]
    assert len(said) == 1 and "tweet-commands[0] at 3 (end now 1)" in said[0]
    assert [a["alertname"] for a in alerts] == [BROKER_LOST_ALERT], "the alert went through a renewed producer"


def test_the_worker_check_reports_a_lost_position_once():
    port = free_port()
    with EmbeddedBroker(port) as broker:
        create_topics(broker.bootstrap)
        produce(broker.bootstrap, command("a"), command("b"), command("c"))
        check = BrokerPositionsCheck(broker.bootstrap)
        assert check.new_losses({(TOPIC, PARTITION): 3}) == {}, "the broker has what was read"
        check.close()
    with EmbeddedBroker(port) as broker:
        create_topics(broker.bootstrap)
        check = BrokerPositionsCheck(broker.bootstrap)
        try:
            assert check.new_losses({(TOPIC, PARTITION): 3, (TOPIC, 1): 0}) == {(TOPIC, PARTITION): (3, 0)}
            assert check.new_losses({(TOPIC, PARTITION): 3}) == {}, "said once"
        finally:
            check.close()
