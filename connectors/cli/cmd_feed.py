"""``wirereport feed nfl|nba``: follow live play-by-play feeds and produce each game's plays to ``plays``."""

from __future__ import annotations

import signal
import threading

from connectors.observability.cli_options import add_metrics_port_argument


def register(subparsers) -> None:
    p = subparsers.add_parser("feed", help="poll a live play-by-play feed while each scheduled game is live")
    leagues = p.add_subparsers(dest="feed_league", metavar="LEAGUE")
    for league, form in (("nfl", "GameCenter JSON"), ("nba", "stats.nba.com playbyplayv2 JSON")):
        sub = leagues.add_parser(league, help=f"a {league.upper()} feed serving {form} per game")
        sub.add_argument(
            "--url-template", required=True, help="URL of a game's document, e.g. 'http://host:port/{game_id}.json'"
        )
        sub.add_argument(
            "--schedule",
            help="ScheduledGame JSON lines, or an nflgame schedule.json (NFL default: the nflgame wheel's)",
        )
        sub.add_argument("--interval", type=_positive, help="seconds between polls of a game (default: settings)")
        sub.add_argument("--games", type=_ids, help="only these game ids, comma-separated (followed even if past)")
        add_metrics_port_argument(sub)
        sub.set_defaults(func=run, league=league.upper())
    p.set_defaults(func=lambda args: p.print_help() or 2)


def _positive(text: str) -> float:
    import argparse

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not above 0")
    return value


def _ids(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def run(args) -> int:
    import httpx

    from connectors.circuit_breaker import breaker_from_settings
    from connectors.exceptions import InputError
    from connectors.kafka.edge import EdgeProducer
    from connectors.sources.feeds.adapters import adapter_for
    from connectors.sources.feeds.poller import FeedPoller, PollerConfig
    from connectors.sources.feeds.positions import FeedPositions
    from connectors.sources.feeds.schedule import load_feed_games
    from streams.settings import get_settings

    settings = get_settings()
    config = PollerConfig.from_settings(settings, args.url_template, args.interval)
    games = load_feed_games(args.league, args.schedule, args.games)
    if not games:
        raise InputError(f"no {args.league} games in the schedule")
    producer = EdgeProducer(settings.bootstrap)
    breaker = breaker_from_settings(
        f"feed-{args.league.lower()}",
        producer,
        settings,
        sliding_window_size=settings.feed_breaker_sliding_window_size,
        minimum_number_of_calls=settings.feed_breaker_minimum_number_of_calls,
        wait_duration_in_open_state=settings.feed_breaker_wait_seconds,
    )
    positions = FeedPositions(settings.data_dir / f"feed-{args.league.lower()}.sqlite")
    http = httpx.Client(timeout=settings.feed_timeout_seconds, headers={"User-Agent": "wirereport-feed"})
    poller = FeedPoller(
        adapter_for(args.league),
        games,
        config,
        producer,
        positions,
        breaker,
        http=http,
        named=set(args.games or ()),
        report=lambda line: print(line, flush=True),
    )
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    counts = poller.counts()
    print(
        f"feed {args.league}: following {len(games)} game(s) ("
        + ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))
        + f") every {config.interval:g} s",
        flush=True,
    )
    from connectors.observability.cli_options import serve_process_metrics

    metrics, readiness, server = serve_process_metrics(args, settings, f"feed-{args.league.lower()}")
    if server is not None:
        poller.observe(metrics)
        readiness.set_ready()  # following the schedule from now on; a failing feed shows in its breaker's state
    try:
        poller.run(stop)
    finally:
        if server is not None:
            server.stop()
        http.close()
        positions.close()
        producer.flush()
    stats = poller.stats
    print(
        f"feed {args.league} stopped: {stats.plays_sent} plays sent ({stats.corrections} corrections), "
        f"{stats.polls} polls, {stats.not_modified} not modified, {stats.failures} failed; "
        + ", ".join(f"{n} {state}" for state, n in sorted(poller.counts().items())),
        flush=True,
    )
    return 0
