"""``wirereport replay``: produce a recorded file into a topic at a chosen speed (for demos and backtests)."""

from __future__ import annotations

import sys


def register(subparsers) -> None:
    p = subparsers.add_parser("replay", help="replay a recorded JSON-lines file into a topic, paced by its timestamps")
    p.add_argument("topic", help="topic name, e.g. plays")
    p.add_argument("file", help="JSON-lines file (.gz ok)")
    p.add_argument("--speed", type=float, default=60.0, help="time compression factor; 0 = as fast as possible")
    p.add_argument("--time-field", help="timestamp field to pace by (default: the schema's first timestamp)")
    p.add_argument("--schema", help="value schema when the topic carries several")
    p.set_defaults(func=run)


def run(args) -> int:
    from connectors.kafka.replay import replay_file
    from streams.settings import get_settings

    def progress(sent: int, _record: dict) -> None:
        if sent % 500 == 0:
            print(f"replayed {sent} record(s) to {args.topic}", file=sys.stderr, flush=True)

    result = replay_file(
        get_settings().bootstrap,
        args.topic,
        args.file,
        speed=args.speed,
        time_field=args.time_field,
        schema=args.schema,
        progress=progress,
    )
    print(
        f"replay done: {result.sent} record(s) to {args.topic} in {result.seconds:.1f}s; {result.invalid} invalid",
        file=sys.stderr,
        flush=True,
    )
    return 3 if result.invalid else 0
