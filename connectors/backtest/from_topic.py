"""The backtests' input read from the broker (``--from-topic``) instead of a file, in the file backtest's form.

Plays: the records of the ``plays`` topic in the broker's order (see ``connectors.kafka.topic_reader``): a
league's plays share a partition, so each league's plays come in the order they were produced; leagues are
interleaved by record timestamp. The output of ``backtest plays --from-topic plays`` is therefore line for line
the file backtest's of a one-league file produced with ``wirereport produce plays FILE``; with several leagues
each league's lines are the same, in the same order, interleaved by when they were produced (each account decides
alone, so the interleaving changes no decision).

Load samples: the scaling backtest reads per-league LoadSample objects (``league``, ``observed_at``,
``workload``); ``system-metrics`` holds one SystemMetrics record per league server and sample. They map as the
scaling agent maps them: per league and per interval of ``--interval`` seconds (the agent's
``WIREREPORT_METRICS_INTERVAL_SECONDS``, 30) starting at a multiple of it, the workload is the sum over the
league's servers of each server's mean workload in the interval, ``observed_at`` the interval's start. Every
interval of the scan is a sample, the last one too; samples are in time order, leagues of one interval in name
order. A league with one server whose samples fall on interval starts maps one record to one sample unchanged.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from connectors.exceptions import InputError


def timestamp_ms(text: str) -> int:
    """``--since``/``--until`` text (ISO-8601; ``Z`` or an offset; naive means UTC) as epoch milliseconds."""
    try:
        at = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO-8601 time, e.g. 2018-09-09T17:00:00Z") from None
    at = at if at.tzinfo else at.replace(tzinfo=UTC)
    return int(at.timestamp() * 1000)


TIME_HELP = (
    "(ISO-8601, naive = UTC) compared with the Kafka record timestamp (the producer's create time, unless the "
    "topic uses LogAppendTime), not with a field of the record"
)


def add_topic_arguments(p, topic_name: str, order: str) -> None:
    """``--from-topic`` and its time window; ``--input`` is then not needed."""
    p.add_argument(
        "--from-topic",
        metavar="TOPIC",
        help=f"read the input from this topic of the broker (WIREREPORT_KAFKA_BOOTSTRAP), e.g. {topic_name}: "
        f"every partition from the beginning to its end when the scan starts; {order}",
    )
    p.add_argument("--since", type=timestamp_ms, metavar="T", help=f"only records at or after T {TIME_HELP}")
    p.add_argument("--until", type=timestamp_ms, metavar="T", help=f"only records before T {TIME_HELP}")


PLAYS_ORDER = (
    "a league's plays in the order produced, leagues merged by (record timestamp, partition, offset): the "
    "output is line for line the file backtest's of a one-league FILE produced with `wirereport produce plays "
    "FILE`; with several leagues each league's lines are the same, interleaved by when they were produced"
)
SAMPLES_ORDER = (
    "SystemMetrics become one sample per league and --interval: the sum over the league's servers of each "
    "server's mean workload, at the interval's start, as the scaling agent sums them; in time order"
)


def _progress(topic_name: str):
    def report(done: int, total: int) -> None:
        print(f"wirereport: reading {topic_name}: {done:,} of about {total:,} records", file=sys.stderr, flush=True)

    return report


def topic_records(
    topic_name: str, schemas: Iterable[str], bad: list[str], since: int | None = None, until: int | None = None
) -> list[tuple[Any, str, dict[str, Any]]]:
    """(message, schema name, record) of the topic's records of ``schemas`` in the broker's order and the window."""
    from connectors.kafka.topic_reader import decode_records, read_topic
    from streams.settings import get_settings

    messages = read_topic(
        get_settings().bootstrap, topic_name, since_ms=since, until_ms=until, progress=_progress(topic_name)
    )
    return decode_records(messages, topic_name, bad, schemas)


def plays_from_topic(args, bad: list[str]) -> list[dict[str, Any]]:
    """The valid plays of ``--from-topic`` in the window, in JSON form (what the file backtest reads)."""
    from schemas.json_form import to_json
    from streams.exceptions import InvalidRecord
    from streams.games.game_state import validate_play

    plays = []
    for message, _, record in topic_records(args.from_topic, ["Play"], bad, args.since, args.until):
        try:
            validate_play(record)
        except InvalidRecord as exc:
            bad.append(f"{args.from_topic} {message.origin}: {exc}")
            continue
        plays.append(to_json("Play", record))
    return plays


def schedule_from_topic(topic_name: str, bad: list[str]) -> list[dict[str, Any]]:
    """Every ScheduledGame of ``topic_name`` (the whole topic: a schedule is published ahead of the window)."""
    from schemas.json_form import to_json

    return [to_json(name, record) for _, name, record in topic_records(topic_name, ["ScheduledGame"], bad)]


def samples_from_metrics(metrics: Iterable[dict[str, Any]], interval: float) -> list[dict[str, Any]]:
    """LoadSample objects of SystemMetrics records: per league and interval, the sum of each server's mean workload."""
    from schemas.json_form import format_timestamp, parse_timestamp

    if not interval > 0:
        raise ValueError("the interval must be positive")
    intervals: dict[tuple[float, str], dict[str, list[float]]] = {}
    for record in metrics:
        t = parse_timestamp(record["observed_at"]).timestamp()
        servers = intervals.setdefault((t - t % interval, record["league"]), {})
        share = servers.setdefault(record["server_id"], [0.0, 0])
        share[0] += float(record["workload"])
        share[1] += 1
    return [
        {
            "league": league,
            "observed_at": format_timestamp(datetime.fromtimestamp(start, UTC)),
            "workload": sum(total / count for total, count in servers.values()),
        }
        for (start, league), servers in sorted(intervals.items())
    ]


def samples_from_topic(args, bad: list[str]) -> list[dict[str, Any]]:
    """The scaling backtest's samples from the SystemMetrics of ``--from-topic`` in the window."""
    from connectors.sources.importers.load_io import parse_sample
    from streams.exceptions import InvalidRecord
    from streams.health.system_metrics import validate_metrics
    from streams.settings import get_settings

    metrics = []
    for message, _, record in topic_records(args.from_topic, ["SystemMetrics"], bad, args.since, args.until):
        try:
            validate_metrics(record)
        except InvalidRecord as exc:
            bad.append(f"{args.from_topic} {message.origin}: {exc}")
            continue
        metrics.append(record)
    interval = args.interval if args.interval is not None else get_settings().metrics_interval_seconds
    if not interval > 0:
        raise InputError("--interval must be a positive number of seconds")
    samples = []
    for sample in samples_from_metrics(metrics, interval):
        try:
            samples.append(parse_sample(sample))
        except ValueError as exc:
            bad.append(f"{args.from_topic} interval {sample['league']} {sample['observed_at']}: {exc}")
    return samples
