"""``wirereport publisher``: post the tweet commands (X API v2 with credentials, else a dry-run log) and
produce a receipt of each outcome to ``tweet-receipts``."""

from __future__ import annotations


def register(subparsers) -> None:
    p = subparsers.add_parser("publisher", help="consume tweet-commands and post them (outbox, dedupe, daily cap)")
    p.add_argument("--once", action="store_true", help="store what is there, deliver what is due, and exit")
    p.set_defaults(func=run)


def run(args) -> int:
    from connectors.effectors.base import stop_on_signals
    from connectors.effectors.tweets.publisher import build_publisher
    from streams.settings import get_settings

    settings = get_settings()
    publisher = build_publisher(settings)
    mode = "X API" if settings.x_bearer_token else f"dry run to {settings.data_dir}/tweets-dryrun.jsonl"
    stop = stop_on_signals()
    try:
        if args.once:
            while publisher.poll_once(timeout=1.0):
                pass
            publisher.deliver_once()
            publisher.send_receipts()
        else:
            publisher.run(stop, on_ready=lambda: print(f"tweet publisher ready ({mode})", flush=True))
    finally:
        stats = publisher.stats
        publisher.close()
    print(
        "tweet publisher stopped: {consumed} consumed, {queued} queued, {duplicate} duplicate, "
        "{over_limit} over the daily limit, {posted} posted, {failed} failed, {receipts} receipts".format(**stats),
        flush=True,
    )
    return 0
