"""``wirereport tweets retry|cancel ID``: retry a failed or held tweet, cancel a pending one (``publisher-controls``)."""

from __future__ import annotations

import getpass
import sys


def register(subparsers) -> None:
    p = subparsers.add_parser("tweets", help="retry a failed or held tweet, cancel a pending one")
    sub = p.add_subparsers(dest="tweets_command", metavar="ACTION")
    r = sub.add_parser("retry", help="queue a failed or held tweet again with fresh attempts (never a posted one)")
    c = sub.add_parser("cancel", help="never post a queued or held tweet, even if its command is redelivered")
    for parser in (r, c):
        parser.add_argument("command_id", help="the tweet command's id")
        parser.add_argument("--reason", default="", help="why (kept with the control)")
        parser.add_argument(
            "--account", help="the command's X account (default: looked up on tweet-receipts, then tweet-commands)"
        )
        add_requested_by(parser)
    r.set_defaults(func=lambda args: run_control("retry", args))
    c.set_defaults(func=lambda args: run_control("cancel", args))
    p.set_defaults(func=lambda args: p.print_help() or 2)


def add_requested_by(parser) -> None:
    parser.add_argument("--by", default=None, help="who asks (default: the login name)")


def run_control(action: str, args) -> int:
    from connectors.exceptions import InputError
    from streams.settings import get_settings

    bootstrap = get_settings().bootstrap
    account = args.account or account_of(bootstrap, args.command_id)
    if account is None:
        raise InputError(
            f"tweet command {args.command_id!r} is on neither tweet-receipts nor tweet-commands; give --account"
        )
    send_control(bootstrap, action, account, args, command_id=args.command_id)
    return 0


def account_of(bootstrap: str, command_id: str) -> str | None:
    """The account of a command, from its receipt (a failed or held command has one) or the command itself."""
    from connectors.kafka.edge import consume_records

    for name in ("tweet-receipts", "tweet-commands"):
        for _, record in consume_records(bootstrap, name, from_beginning=True, timeout=2.0):
            if record.get("command_id") == command_id:
                return record["account"]
    return None


def send_control(bootstrap: str, action: str, account: str, args, command_id: str | None = None) -> dict:
    """Produce a PublisherControl and wait for its acknowledgement; print what was sent."""
    from datetime import UTC, datetime

    from connectors.effectors.tweets.controls import control_record
    from connectors.exceptions import InputError
    from connectors.kafka.admin import create_topics
    from connectors.kafka.edge import EdgeProducer
    from streams.topics import topic

    requested_by = args.by or f"cli:{getpass.getuser()}"
    try:
        record = control_record(
            action,
            account,
            requested_by=requested_by,
            requested_at=datetime.now(UTC),
            command_id=command_id,
            reason=args.reason,
        )
    except ValueError as exc:
        raise InputError(str(exc)) from None
    spec = topic("publisher-controls")
    create_topics(bootstrap, [spec])
    with EdgeProducer(bootstrap) as producer:
        producer.send(spec.name, record, validate=True)
    what = f"{command_id} (account {account})" if command_id else f"account {account}"
    print(f"{action} {what}: control {record['control_id']} sent; the publisher applies it once")
    print(f"audit: {requested_by} {action} {what}: {args.reason!r}", file=sys.stderr)
    return record
