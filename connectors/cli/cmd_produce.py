"""``wirereport produce`` / ``consume`` / ``topics``: the edge of the system from a terminal."""

from __future__ import annotations

import sys


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "produce",
        help="validate every JSON line against the topic's schema and bounds, then produce the valid ones (exit 3 if"
        " any line was invalid)",
    )
    p.add_argument("topic", help="topic name, e.g. plays")
    p.add_argument("file", help="JSON-lines file (.gz ok, - for stdin)")
    p.add_argument("--schema", help="value schema when the topic carries several (default: the topic's main one)")
    p.add_argument("--rate", type=float, default=0, help="messages per second (default: as fast as possible)")
    p.set_defaults(func=run_produce)

    c = subparsers.add_parser("consume", help="print a topic's decoded records as JSON lines")
    c.add_argument("topic")
    c.add_argument("--from-beginning", action="store_true", help="start at the oldest message (default: new ones)")
    c.add_argument("--max", type=int, default=None, help="stop after N messages")
    c.add_argument("--timeout", type=float, default=10.0, help="stop after S seconds without a message (default 10)")
    c.set_defaults(func=run_consume)

    t = subparsers.add_parser("topics", help="manage topics on the configured cluster")
    tsub = t.add_subparsers(dest="topics_action", metavar="ACTION")
    tc = tsub.add_parser("create", help="create every declared topic that does not exist yet (idempotent)")
    tc.set_defaults(func=run_topics_create)
    tl = tsub.add_parser("list", help="list declared topics and whether they exist")
    tl.set_defaults(func=run_topics_list)
    t.set_defaults(func=lambda args: t.print_help() or 2)


def run_produce(args) -> int:
    from connectors.kafka.edge import produce_file
    from streams.settings import get_settings

    result = produce_file(get_settings().bootstrap, args.topic, args.file, schema=args.schema, rate=args.rate)
    # the invalid lines were reported above as FILE:LINE: reason, and not produced
    print(f"produced {result.sent} record(s) to {args.topic}; {result.invalid} invalid line(s)", file=sys.stderr)
    return 3 if result.invalid else 0


def run_consume(args) -> int:
    import json

    from connectors.kafka.edge import consume_records
    from schemas.json_form import to_json
    from streams.settings import get_settings

    records = consume_records(
        get_settings().bootstrap,
        args.topic,
        from_beginning=args.from_beginning,
        max_messages=args.max,
        timeout=args.timeout,
    )
    try:
        for name, record in records:
            print(json.dumps(to_json(name, record), default=str, ensure_ascii=False), flush=True)
    except BrokenPipeError:
        return 0
    return 0


def run_topics_create(args) -> int:
    from connectors.kafka.admin import create_topics
    from streams.settings import get_settings

    settings = get_settings()
    created = create_topics(settings.bootstrap, replication_factor=settings.replication_factor)
    print(f"created {len(created)} topic(s) on {settings.bootstrap}: {', '.join(created) or 'none needed'}")
    return 0


def run_topics_list(args) -> int:
    from connectors.kafka.admin import existing_topics
    from streams.settings import get_settings
    from streams.topics import TOPICS

    existing = existing_topics(get_settings().bootstrap)
    for spec in TOPICS.values():
        state = f"{existing[spec.name]} partitions" if spec.name in existing else "missing"
        policy = "compact" if spec.compacted else "delete"
        print(f"{spec.name:24} key={spec.key_field:14} {policy:8} {'/'.join(spec.value_schemas):28} {state}")
    return 0
