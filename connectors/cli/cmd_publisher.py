"""``wirereport publisher [--account NAME]``: post the tweet commands (each account with its own X credentials,
else the legacy bearer token, else a dry-run log) and produce a receipt of each outcome to ``tweet-receipts``."""

from __future__ import annotations

from connectors.observability.cli_options import add_metrics_port_argument


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "publisher", help="consume tweet-commands and post them (outbox, dedupe, rolling 24-hour limit per account)"
    )
    p.add_argument("--once", action="store_true", help="store what is there, deliver what is due, and exit")
    p.add_argument(
        "--account",
        metavar="NAME",
        help="post only this account's commands (its own outbox tweets-NAME.sqlite and positions); default: all",
    )
    add_metrics_port_argument(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from connectors.effectors.base import stop_on_signals
    from connectors.effectors.tweets.publisher import setup_publisher
    from connectors.observability.cli_options import observe_effector
    from connectors.observability.tracing import configure_tracing
    from streams.settings import get_settings

    settings = get_settings()
    setup = setup_publisher(settings, account=args.account)
    publisher = setup.publisher
    server = observe_effector(publisher, args, settings, "publisher")
    tracing = configure_tracing("publisher", settings.tracing, settings.otlp_endpoint)
    if tracing.enabled:
        publisher.trace(tracing)
    stop = stop_on_signals()
    try:
        if args.once:
            publisher.requeue_held()
            while publisher.poll_once(timeout=1.0):
                pass
            publisher.deliver_once()
            publisher.send_receipts()
            publisher.send_alerts()
        else:
            publisher.run(stop, on_ready=lambda: print(f"tweet publisher ready ({setup.mode})", flush=True))
    finally:
        stats = publisher.stats
        publisher.close()
        if server is not None:
            server.stop()
        tracing.shutdown()
    print(
        "tweet publisher stopped: {consumed} consumed, {queued} queued, {duplicate} duplicate, "
        "{over_limit} over the rolling limit, {posted} posted, {held} held, {duplicate_content} refused as "
        "duplicate content, {failed} failed, {receipts} receipts".format(**stats),
        flush=True,
    )
    return 0
