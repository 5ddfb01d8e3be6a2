"""The feed poller: follows each scheduled game while it is live and produces its plays, each once, in order.

A game is followed from its scheduled start until its document says it is final, or until the document has
not changed for ``stale_after`` seconds (stale). Games that started more than ``follow_hours`` ago are skipped
unless named (a recorded game replayed through a local feed). Each live game is polled every ``interval``
seconds with a conditional request (``If-None-Match`` / ``If-Modified-Since``: a 304 costs nothing); the
validators are kept only once what the document carried is delivered, so an undelivered document is fetched
again. Failures (network errors, statuses other than 200/304/404, malformed documents) back off per game,
exponentially, capped and jittered, and count for the feed's circuit breaker; while it is OPEN no request is
made. 404 means the feed has no document for the game yet.

Delivery: the adapter gives the Play records no later document can change (see the adapters for the play held
back until the next snap or the game's end). Those not sent yet, or sent with other content (a correction:
same ``play_id``, new content), are produced to ``plays`` in order, the ScheduledGame to ``league-events`` when
it is new or changed; the position store records them only after the producer's flush confirmed delivery. A
crash between the flush and that record sends the same records again on restart (at-least-once, same ids and
content); otherwise a restart sends nothing twice and skips nothing.
"""

from __future__ import annotations

import hashlib
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from connectors.circuit_breaker import CallNotPermitted, CircuitBreaker
from connectors.exceptions import BrokerUnavailable, InputError
from connectors.sources.feeds.base import FeedAdapter, FeedGame, FeedSnapshot, MalformedFeed
from connectors.sources.feeds.positions import FeedPositions, content_hash
from schemas.exceptions import SchemaError
from schemas.json_form import from_json
from streams.exceptions import InvalidRecord
from streams.games.game_state import validate_play

log = logging.getLogger(__name__)

SCHEDULED, LIVE, FINAL, STALE, SKIPPED = "scheduled", "live", "final", "stale", "skipped"


@dataclass(frozen=True)
class PollerConfig:
    url_template: str  # e.g. "http://host:port/{game_id}.json"; {league} may be used too
    interval: float = 10.0
    stale_after: float = 1800.0
    follow_hours: float = 12.0
    backoff_initial: float = 1.0
    backoff_max: float = 120.0

    def __post_init__(self) -> None:
        if "{game_id}" not in self.url_template:
            raise InputError(f"--url-template {self.url_template!r} has no {{game_id}}")
        try:
            self.url_template.format(game_id="0", league="NFL")
        except (KeyError, IndexError, ValueError) as exc:
            raise InputError(f"--url-template {self.url_template!r}: only {{game_id}} and {{league}} ({exc})") from None

    @classmethod
    def from_settings(cls, settings: Any, url_template: str, interval: float | None = None) -> PollerConfig:
        return cls(
            url_template=url_template,
            interval=interval if interval is not None else settings.feed_interval_seconds,
            stale_after=settings.feed_stale_after_seconds,
            follow_hours=settings.feed_follow_hours,
            backoff_initial=settings.feed_backoff_initial_seconds,
            backoff_max=settings.feed_backoff_max_seconds,
        )

    def url(self, game: FeedGame) -> str:
        return self.url_template.format(game_id=game.game_id, league=game.league.lower())


def backoff_delay(failures: int, initial: float, cap: float, rng: random.Random) -> float:
    """Delay after the ``failures``-th failure in a row: ``initial`` doubling, capped at ``cap``, jittered to
    between half and all of it (pollers that failed together do not come back together)."""
    ceiling = min(cap, initial * 2 ** max(0, failures - 1))
    return ceiling / 2 + rng.uniform(0, ceiling / 2)


def changed_plays(plays: list[dict[str, Any]], sent: dict[str, str]) -> list[dict[str, Any]]:
    """The plays not sent yet or sent with other content (play_id -> content hash in ``sent``), in order."""
    return [p for p in plays if sent.get(p["play_id"]) != content_hash(p)]


def validate_snapshot(snapshot: FeedSnapshot) -> None:
    """Raise ``MalformedFeed`` if a record breaks the Play/ScheduledGame schema or a Play domain rule."""
    from schemas.codec import get_codec

    codec = get_codec()
    try:
        if snapshot.schedule is not None:
            codec.validate("ScheduledGame", from_json("ScheduledGame", snapshot.schedule))
        for play in snapshot.plays:
            record = from_json("Play", play)
            codec.validate("Play", record)
            validate_play(record)
    except (SchemaError, InvalidRecord, ValueError, KeyError, TypeError) as exc:
        raise MalformedFeed(f"invalid record: {exc}") from None


@dataclass
class FollowedGame:
    """A game's runtime state (the durable part is in the position store)."""

    game: FeedGame
    state: str = SCHEDULED
    next_poll_at: float = 0.0
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    last_change_at: float = 0.0
    failures: int = 0
    sent: int = 0  # Play records produced this run (corrections included)


@dataclass
class PollerStats:
    polls: int = 0
    not_modified: int = 0
    failures: int = 0
    plays_sent: int = 0
    corrections: int = 0
    states: dict[str, int] = field(default_factory=dict)


class FeedPoller:
    """Follows ``games`` with one ``adapter``; ``step()`` does what is due, ``run(stop)`` loops until done."""

    def __init__(
        self,
        adapter: FeedAdapter,
        games: list[FeedGame],
        config: PollerConfig,
        producer: Any,
        positions: FeedPositions,
        breaker: CircuitBreaker | None = None,
        *,
        http: httpx.Client | None = None,
        named: set[str] | None = None,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        report: Callable[[str], None] | None = None,
    ) -> None:
        self.adapter, self.config = adapter, config
        self.producer, self.positions, self.breaker = producer, positions, breaker
        self.http = http or httpx.Client(timeout=10.0)
        self.clock = clock
        self.rng = rng or random.Random()
        self.report = report or (lambda line: log.info("%s", line))
        self.stats = PollerStats()
        self.metrics = None  # a ProcessMetrics when the process serves metrics (see observe)
        now = clock()
        self.games: list[FollowedGame] = []
        for game in games:
            followed = FollowedGame(game)
            if positions.position(game.league, game.game_id).final:
                followed.state = FINAL  # ended in an earlier run
            elif game.game_id not in (named or set()) and game.scheduled_start.timestamp() < (
                now - config.follow_hours * 3600
            ):
                followed.state = SKIPPED
            self.games.append(followed)

    def observe(self, metrics) -> None:
        """Report plays produced (``wirereport_records_processed{topic="plays"}``) and the breaker's state."""
        self.metrics = metrics
        if self.breaker is not None:
            breaker = self.breaker
            metrics.breaker(breaker.name, breaker.state)
            metrics.on_scrape(lambda: metrics.breaker(breaker.name, breaker.state))

    # -- the loop -----------------------------------------------------------------------------------------------
    def step(self) -> float | None:
        """Start, poll and retire what is due now; seconds until something is due next, None when all are done."""
        now = self.clock()
        for followed in self.games:
            if followed.state == SCHEDULED and now >= followed.game.scheduled_start.timestamp():
                followed.state, followed.last_change_at, followed.next_poll_at = LIVE, now, now
                self.report(f"{followed.game.label}: live")
            if followed.state == LIVE and followed.next_poll_at <= now:
                self.poll(followed, now)
            if followed.state == LIVE and now - followed.last_change_at >= self.config.stale_after:
                followed.state = STALE
                self.report(
                    f"{followed.game.label}: stale (no change for {self.config.stale_after:g} s; {followed.sent} sent)"
                )
        due = [f.next_poll_at for f in self.games if f.state == LIVE]
        due += [f.game.scheduled_start.timestamp() for f in self.games if f.state == SCHEDULED]
        if not due:
            return None
        return max(0.0, min(due) - self.clock())

    def run(self, stop: threading.Event, longest_sleep: float = 60.0) -> None:
        self.announce_schedule()
        while not stop.is_set():
            wait = self.step()
            if wait is None:
                return
            stop.wait(min(wait, longest_sleep))

    def announce_schedule(self) -> int:
        """Produce the ScheduledGame of every game still to follow that was not sent yet; the number sent.

        The games step reserves tweets for the games still to come in the day, so it must know them before the
        first kickoff (as the backtest does), not only from each game's first document."""
        games = [f.game for f in self.games if f.state in (SCHEDULED, LIVE)]
        new = []
        for game in games:
            schedule = game.scheduled_game()
            if content_hash(schedule) != self.positions.position(game.league, game.game_id).schedule_hash:
                new.append((game, schedule))
        if not new:
            return 0
        try:
            for _game, schedule in new:
                self.producer.send("league-events", from_json("ScheduledGame", schedule), schema="ScheduledGame")
            self.producer.flush()
        except BrokerUnavailable as exc:  # each game's first document sends it again
            log.warning("schedule not announced (%s); each game's is sent with its first document", exc)
            return 0
        for game, schedule in new:
            self.positions.record_delivered(game.league, game.game_id, [], content_hash(schedule))
        return len(new)

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for followed in self.games:
            counts[followed.state] = counts.get(followed.state, 0) + 1
        return counts

    # -- one poll -----------------------------------------------------------------------------------------------
    def poll(self, followed: FollowedGame, now: float) -> None:
        """One (conditional) request for one live game, and the delivery of what it brought."""
        game = followed.game
        url = self.config.url(game)
        headers = {}
        if followed.etag:
            headers["If-None-Match"] = followed.etag
        if followed.last_modified:
            headers["If-Modified-Since"] = followed.last_modified
        if self.breaker is not None:
            try:
                self.breaker.acquire()
            except CallNotPermitted:
                followed.next_poll_at = now + self.config.interval
                return
        changes = len(self.breaker.transitions) if self.breaker else 0
        self.stats.polls += 1
        started = time.monotonic()
        try:
            snapshot, response = self._fetch(url, headers, game)
        except MalformedFeed as exc:
            log.warning("%s: malformed document from %s: %s", game.label, url, exc)
            self._failed(followed, now, started, f"malformed document ({exc})")
        except _FetchFailed as exc:
            self._failed(followed, now, started, str(exc))
        else:
            self._succeeded(followed, started)
            if snapshot is not None:
                self._take(followed, now, snapshot, response)
            followed.next_poll_at = now + self.config.interval
        if self.breaker is not None and len(self.breaker.transitions) != changes:
            self._flush_breaker_state()

    def _fetch(self, url: str, headers: dict[str, str], game: FeedGame) -> tuple[FeedSnapshot | None, httpx.Response]:
        try:
            response = self.http.get(url, headers=headers)
        except httpx.HTTPError as exc:
            raise _FetchFailed(f"request to {url} failed: {exc.__class__.__name__}: {exc}") from None
        if response.status_code == 304:
            self.stats.not_modified += 1
            return None, response
        if response.status_code == 404:  # the feed has no document for this game yet
            return None, response
        if response.status_code != 200:
            raise _FetchFailed(f"{url} answered HTTP {response.status_code}")
        snapshot = self.adapter.convert(response.content, game)
        validate_snapshot(snapshot)
        return snapshot, response

    def _take(self, followed: FollowedGame, now: float, snapshot: FeedSnapshot, response: httpx.Response) -> None:
        body_hash = hashlib.sha256(response.content).hexdigest()
        if body_hash != followed.body_hash:
            followed.last_change_at = now
        try:
            sent = self._deliver(followed.game, snapshot)
        except BrokerUnavailable as exc:  # the validators are not kept: the next poll fetches it again
            log.warning("%s: plays not delivered (%s); trying again at the next poll", followed.game.label, exc)
            return
        followed.sent += sent
        followed.body_hash = body_hash
        followed.etag = response.headers.get("ETag")
        followed.last_modified = response.headers.get("Last-Modified")
        if snapshot.final:
            followed.state = FINAL
            self.report(f"{followed.game.label}: final ({len(snapshot.plays)} plays; {followed.sent} sent this run)")

    def _deliver(self, game: FeedGame, snapshot: FeedSnapshot) -> int:
        """Produce what the position store has not recorded, flush, then record it; the number of plays sent."""
        position = self.positions.position(game.league, game.game_id)
        plays = changed_plays(snapshot.plays, position.sent)
        schedule_hash = content_hash(snapshot.schedule) if snapshot.schedule is not None else None
        send_schedule = schedule_hash is not None and schedule_hash != position.schedule_hash
        if not plays and not send_schedule and snapshot.final == position.final:
            return 0
        if send_schedule:
            self.producer.send("league-events", from_json("ScheduledGame", snapshot.schedule), schema="ScheduledGame")
        for play in plays:
            self.producer.send("plays", from_json("Play", play))
        self.producer.flush()
        self.positions.record_delivered(
            game.league, game.game_id, plays, schedule_hash if send_schedule else None, snapshot.final
        )
        corrections = [p["play_id"] for p in plays if p["play_id"] in position.sent]
        if corrections:  # the games step takes them as redeliveries: a tweet already sent about them stands
            shown = ", ".join(corrections[:5]) + (", ..." if len(corrections) > 5 else "")
            self.report(f"{game.label}: {len(corrections)} corrected play(s) sent again ({shown})")
        self.stats.plays_sent += len(plays)
        self.stats.corrections += len(corrections)
        if self.metrics is not None:
            self.metrics.processed("plays", len(plays))
        return len(plays)

    # -- outcomes -----------------------------------------------------------------------------------------------
    def _succeeded(self, followed: FollowedGame, started: float) -> None:
        if self.breaker is not None:
            self.breaker.on_success(time.monotonic() - started)
        if followed.failures:
            self.report(f"{followed.game.label}: feed back after {followed.failures} failed poll(s)")
            followed.failures = 0

    def _failed(self, followed: FollowedGame, now: float, started: float, reason: str) -> None:
        if self.breaker is not None:
            self.breaker.on_error(time.monotonic() - started)
        self.stats.failures += 1
        followed.failures += 1
        delay = backoff_delay(followed.failures, self.config.backoff_initial, self.config.backoff_max, self.rng)
        followed.next_poll_at = now + delay
        if followed.failures == 1:
            self.report(f"{followed.game.label}: feed error: {reason}; backing off")
        else:
            log.debug(
                "%s: feed error %d in a row: %s (next try in %.1f s)",
                followed.game.label,
                followed.failures,
                reason,
                delay,
            )

    def _flush_breaker_state(self) -> None:
        try:  # the breaker produced its BreakerState (and alert) through our producer
            self.producer.flush()
        except BrokerUnavailable as exc:
            log.warning("breaker state not delivered: %s", exc)


class _FetchFailed(Exception):
    """A request that failed or was answered with an error status."""
