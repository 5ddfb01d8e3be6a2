"""A one-line-per-change view of the system for a terminal: game state, tweets, dead letters."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from confluent_kafka import KafkaException

from connectors.kafka.edge import assigned_consumer
from schemas.codec import get_codec
from schemas.exceptions import SchemaError
from streams.topics import TOPICS

WATCHED = ("game-state", "tweet-commands", "scaling-commands", "alerts", "dead-letters")


def describe(name: str, record: dict[str, Any]) -> str | None:
    """A human line for a record of a watched topic."""
    if name == "GameState":
        period = record["period"]
        label = f"Q{period}" if period <= 4 else f"OT{period - 4 if period > 5 else ''}"
        clock = f"{record['clock_seconds'] // 60}:{record['clock_seconds'] % 60:02d}"
        wp = record.get("win_prob_home")
        wp_text = f"  home win {wp:.0%}" if wp is not None else ""
        status = "FINAL" if record["status"] == "final" else f"{label} {clock}"
        return (
            f"{record['league']} {record['away_team']} {record['away_score']} @ {record['home_team']} "
            f"{record['home_score']}  {status}{wp_text}  ({record['plays_seen']} plays)"
        )
    if name == "TweetCommand":
        return f"TWEET @{record['account']} [{record['urgency']}/{record['style']}] {record['text']}"
    if name == "ScalingCommand":
        return f"SCALE {record['league']} {record['agents_before']} -> {record['agents_after']}: {record['reason']}"
    if name == "Alert":
        return f"ALERT {record['status'].upper()} {record['severity']} {record['alertname']} {record.get('server_id') or ''}"
    if name == "DeadLetter":
        return (
            f"DEAD LETTER from {record['source_topic']}[{record['partition']}]@{record['offset']}: {record['reason']}"
        )
    return None


def watch(bootstrap: str, emit: Callable[[str, str], None], stop: threading.Event, topics=WATCHED) -> None:
    """Print new records of ``topics`` through ``emit(topic, line)`` until ``stop`` is set."""
    codec = get_codec()
    consumer = assigned_consumer(bootstrap, [t for t in topics if t in TOPICS], group_id="wirereport-live-view")
    try:
        while not stop.is_set():
            try:
                msg = consumer.poll(0.3)
            except KafkaException:
                continue
            if msg is None or msg.error():
                continue
            try:
                name, record = codec.decode(msg.value())
            except SchemaError:
                continue
            line = describe(name, record)
            if line:
                emit(msg.topic(), line)
    finally:
        consumer.close()
