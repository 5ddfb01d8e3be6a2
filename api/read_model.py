"""The API's materialized view: an aiokafka consumer of the state and command topics, decoded into views.

No consumer group: every partition is assigned directly and read from the beginning, so a restarted API
rebuilds its views from the compacted topics. Messages are decoded in batches with a yield to the event
loop after each batch. A topic whose Avro schema is not shipped yet, or that does not exist on the broker,
is skipped (its endpoints answer empty lists) and picked up when it appears. Lag is measured per topic
against the end offsets; the broker probe behind ``/ready`` is the same call.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from api.budget_outlooks import BudgetOutlooks
from api.views import DeadLetterSummary, KeyedView, LogView, raw_preview
from connectors.config import TOPICS
from schemas.codec import Codec, get_codec
from schemas.exceptions import SchemaError
from schemas.json_form import to_json
from streams.runtime.kafka_security import aiokafka_security_kwargs
from streams.settings import get_settings

log = logging.getLogger(__name__)

KEYED = {  # topic -> view name (latest record per key)
    "game-state": "games",
    "tweet-budgets": "budgets",
    "load-forecasts": "forecasts",
    "scaling-state": "scaling",
    "server-health": "servers",
    "alerts": "alerts",
    "breaker-state": "breakers",
    "deployment-state": "deployments",
    "silences": "silences",
    "tweet-receipts": "tweet_receipts",  # the tweet publisher's outcomes (key command_id): /v1/tweets publish_status
    "token-revocations": "revocations",  # revoked token ids: refused with 401
    "system-metrics": "server_metrics",  # the latest sample per server: which league each server belongs to
    "feature-flags": "flags",  # run-time switches of the agents (key flag_id)
    "publisher-controls": "publisher_controls",  # operators' retry/cancel/pause/resume: which accounts are paused
}
BY_ID = {  # topic -> (view name, id field): records of a log topic kept by their own id (cancellable objects)
    "scaling-overrides": ("overrides", "override_id"),
    "league-events": ("events", "event_id"),  # LeagueEvent records only (schedules have no event_id)
}
SCHEDULE = "league-events"  # its ScheduledGame records: the schedule the budgets' outlooks plan with
LOGS = {  # topic -> (view name, id field, index field)
    "tweet-commands": ("tweets", "command_id", "game_id"),
    "scaling-commands": ("scaling_history", "command_id", "league"),
    "alerts": ("alert_history", ("fingerprint", "status", "at"), "fingerprint"),
    "deployment-decisions": ("decisions", "decision_id", "deployment_id"),
}
LOST_DATA_HOLD_SECONDS = 20.0  # a broker loss keeps the API not ready at least this long: long enough to be seen

DEAD_LETTERS = "dead-letters"
READ_TOPICS = tuple(dict.fromkeys([*KEYED, *LOGS, *BY_ID, DEAD_LETTERS]))


class WinProbHistory:
    """The win-probability line of each game: (updated_at, win_prob_home, home_score, away_score) per change,
    the last ``per_game`` points of the last ``games`` games updated (older games are forgotten first)."""

    def __init__(self, per_game: int = 400, games: int = 2000):
        self.per_game = per_game
        self.games = games
        self._lines: OrderedDict[str, deque[tuple]] = OrderedDict()

    def add(self, game: dict[str, Any]) -> None:
        wp = game.get("win_prob_home")
        if wp is None or game.get("game_id") is None:
            return
        game_id = str(game["game_id"])
        line = self._lines.get(game_id)
        if line is None:
            line = self._lines[game_id] = deque(maxlen=self.per_game)
            if len(self._lines) > self.games:
                self._lines.popitem(last=False)
        self._lines.move_to_end(game_id)
        point = (game.get("updated_at"), float(wp), game.get("home_score"), game.get("away_score"))
        if line and line[-1][0] == point[0]:  # a redelivered or corrected record of the same play replaces it
            line[-1] = point
        elif not line or str(point[0]) > str(line[-1][0]):
            line.append(point)

    def of(self, game_id: str) -> list[dict[str, Any]]:
        keys = ("at", "wp", "home_score", "away_score")
        return [dict(zip(keys, p, strict=True)) for p in self._lines.get(game_id, ())]


@dataclass
class TopicStatus:
    """What the read model knows about one topic."""

    schemas: tuple[str, ...] = ()
    skipped: str | None = None  # why the topic is not consumed (no schema yet, not on the broker)
    partitions: int = 0
    records: int = 0
    decode_errors: int = 0
    lag: int | None = None
    last_error: str | None = None


@dataclass
class ReadModelStatus:
    broker_reachable: bool = False
    broker_error: str | None = "not connected yet"
    caught_up: bool = False  # reached the end offsets seen at first connection
    lost_data: str | None = None  # the broker came back with less than we had read: what, until caught up again
    lost_at: float = 0.0  # time.monotonic() of the loss (not ready for at least LOST_DATA_HOLD_SECONDS)
    checked_at: float | None = None
    topics: dict[str, TopicStatus] = field(default_factory=dict)

    @property
    def total_lag(self) -> int:
        return sum(t.lag or 0 for t in self.topics.values())


class ReadModel:
    """Views per domain, fed from Kafka by :meth:`run` (or by :meth:`apply` directly in unit tests)."""

    def __init__(
        self,
        bootstrap: str,
        *,
        history_size: int = 5000,
        codec: Codec | None = None,
        batch_size: int = 2000,
        probe_interval: float = 1.0,
        probe_timeout: float = 3.0,
        ready_max_lag: int = 10000,
    ):
        self.bootstrap = bootstrap
        self.codec = codec or get_codec()
        self.batch_size = batch_size
        self.yield_every = 250
        self.probe_interval = probe_interval
        self.probe_timeout = probe_timeout
        self.ready_max_lag = ready_max_lag
        self.keyed = {view: KeyedView(view, TOPICS[t].key_field) for t, view in KEYED.items() if t in TOPICS}
        self.keyed.update({view: KeyedView(view, field) for t, (view, field) in BY_ID.items() if t in TOPICS})
        self.logs = {view: LogView(view, history_size, idf, ixf) for t, (view, idf, ixf) in LOGS.items() if t in TOPICS}
        self.dead_letters = DeadLetterSummary()
        self.win_prob = WinProbHistory()
        self.budget_outlooks = BudgetOutlooks(get_settings().tweet_timezone, lambda gid: self.keyed["games"].get(gid))
        self.dead_letter_previews: deque[dict[str, Any]] = deque(maxlen=100)  # newest last, raw bytes cut short
        self.status = ReadModelStatus()
        known = set(self.codec.registry.names())
        for name in READ_TOPICS:
            spec = TOPICS.get(name)
            st = self.status.topics[name] = TopicStatus()
            if spec is None:
                st.skipped = "topic not declared in streams/topics.py"
                continue
            st.schemas = tuple(s for s in spec.value_schemas if s in known)
            if not st.schemas:
                st.skipped = f"schema {', '.join(spec.value_schemas)} not defined yet"
        self._next: dict[TopicPartition, int] = {}
        self._initial_end: dict[TopicPartition, int] | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self._tasks: list[asyncio.Task] = []

    # --- views -----------------------------------------------------------------------------------------
    def view(self, name: str) -> KeyedView | LogView | None:
        return self.keyed.get(name) or self.logs.get(name)

    def apply(self, topic: str, key: bytes | None, value: bytes | None) -> bool:
        """Decode one message of ``topic`` and update the views; return False if it could not be decoded."""
        st = self.status.topics[topic]
        if value is None:  # tombstone on a compacted topic
            if topic in KEYED and key is not None:
                self.keyed[KEYED[topic]].apply(key.decode(errors="replace"), None)
            return True
        try:
            name, record = self.codec.decode(value, st.schemas)
            record = to_json(name, record)
        except SchemaError as exc:
            st.decode_errors += 1
            st.last_error = str(exc)[:300]
            return False
        st.records += 1
        if topic == "tweet-budgets":  # shown with what follows from it (reserve, rolling count, bars, watched games)
            record = self.budget_outlooks.with_outlook(record)
        if topic == SCHEDULE and "scheduled_start" in record:
            budgets = self.keyed["budgets"]
            for budget in self.budget_outlooks.add_game(record, list(budgets.values())):
                budgets.apply(str(budget["account"]), budget)
        if topic in KEYED:
            view = self.keyed[KEYED[topic]]
            rkey = record.get(view.key_field)
            if rkey is None and key is not None:
                rkey = key.decode(errors="replace")
            view.apply(str(rkey), record)
        if topic in BY_ID:
            view_name, id_field = BY_ID[topic]
            if record.get(id_field) is not None:
                self.keyed[view_name].apply(str(record[id_field]), record)
        if topic in LOGS:
            self.logs[LOGS[topic][0]].append(record)
        if topic == "game-state":
            self.win_prob.add(record)
        if topic == DEAD_LETTERS:
            self.dead_letters.add(record)
            preview = {k: v for k, v in record.items() if k not in ("value", "key")}
            preview["key_preview"] = raw_preview(record.get("key"))
            preview["value_preview"] = raw_preview(record.get("value"))
            self.dead_letter_previews.append(preview)
        return True

    def server_leagues(self) -> dict[str, str | None]:
        """Every server the API has heard of (health or metrics) and its league."""
        leagues: dict[str, str | None] = {}
        for name in ("servers", "server_metrics"):
            view = self.keyed.get(name)
            for record in view.values() if view is not None else ():
                server = str(record.get("server_id"))
                if record.get("league") is not None or server not in leagues:
                    leagues[server] = record.get("league")
        return leagues

    def account_controls(self) -> dict[str, dict[str, Any]]:
        """Each account's latest pause or resume control (by ``requested_at``, then ``control_id``)."""
        view = self.keyed.get("publisher_controls")
        latest: dict[str, dict[str, Any]] = {}
        for control in view.values() if view is not None else ():
            if control.get("action") not in ("pause", "resume"):
                continue
            account = str(control.get("account"))
            order = (str(control.get("requested_at")), str(control.get("control_id")))
            seen = latest.get(account)
            if seen is None or order > (str(seen.get("requested_at")), str(seen.get("control_id"))):
                latest[account] = control
        return latest

    def account_pauses(self) -> dict[str, dict[str, Any]]:
        """Each paused account's pause control: an account is paused when its latest pause or resume is a pause."""
        return {account: c for account, c in self.account_controls().items() if c.get("action") == "pause"}

    def accounts(self) -> set[str]:
        """Every X account the API has heard of: budgets, tweet commands, receipts and controls."""
        names: set[str] = set()
        for name in ("budgets", "tweet_receipts", "publisher_controls"):
            view = self.keyed.get(name)
            names.update(str(r["account"]) for r in (view.values() if view is not None else ()) if r.get("account"))
        tweets = self.logs.get("tweets")
        names.update(str(r["account"]) for r in (tweets.recent() if tweets is not None else ()) if r.get("account"))
        return names

    def is_revoked(self, jti: str) -> bool:
        view = self.keyed.get("revocations")
        return view is not None and view.get(jti) is not None

    # --- readiness ---------------------------------------------------------------------------------------
    def readiness(self) -> tuple[bool, str]:
        """(ready, reason): broker reachable and the views caught up."""
        st = self.status
        if not st.broker_reachable:
            return False, f"broker unreachable at {self.bootstrap}: {st.broker_error}"
        if st.lost_data is not None:
            return False, f"{st.lost_data}; reading them again (lag {st.total_lag} messages)"
        if not st.caught_up:
            return False, f"read model catching up (lag {st.total_lag} messages)"
        if st.total_lag > self.ready_max_lag:
            return False, f"read model lagging: {st.total_lag} messages behind (limit {self.ready_max_lag})"
        return True, "ok"

    # --- Kafka -------------------------------------------------------------------------------------------
    async def start(self) -> None:
        """Start consuming in background tasks (returns at once; the broker may be down)."""
        self._tasks = [asyncio.create_task(self._run(), name="read-model")]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []

    async def _run(self) -> None:
        backoff = 0.5
        while True:
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self.bootstrap,
                group_id=None,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                request_timeout_ms=10000,
                retry_backoff_ms=200,
                fetch_max_wait_ms=200,
                max_partition_fetch_bytes=4 * 1024 * 1024,
                **aiokafka_security_kwargs(get_settings()),
            )
            try:
                await consumer.start()
            except Exception as exc:  # broker down at startup: keep answering from memory, retry
                self._unreachable(exc)
                with contextlib.suppress(Exception):
                    await consumer.stop()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            backoff = 0.5
            self._consumer = consumer
            try:
                await self._consume(consumer)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("read model consumer failed, reconnecting: %s", exc)
                self._unreachable(exc)
                await asyncio.sleep(1.0)
            finally:
                self._consumer = None
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(consumer.stop(), 5)

    def _unreachable(self, exc: BaseException) -> None:
        reason = f"{exc.__class__.__name__}: {exc}" if str(exc) else exc.__class__.__name__
        if self.status.broker_reachable or self.status.broker_error != reason:
            log.warning("broker %s unreachable: %s", self.bootstrap, reason)
        self.status.broker_reachable = False
        self.status.broker_error = reason[:300]

    async def _consume(self, consumer: AIOKafkaConsumer) -> None:
        await self._refresh_assignment(consumer)
        last_probe = 0.0
        last_refresh = time.monotonic()
        while True:
            now = time.monotonic()
            if now - last_refresh > 5.0:
                await self._refresh_assignment(consumer)
                last_refresh = now
            if now - last_probe >= self.probe_interval:
                await self._probe(consumer)
                last_probe = time.monotonic()
            if not consumer.assignment():
                await asyncio.sleep(0.5)
                continue
            batches = await consumer.getmany(timeout_ms=200, max_records=self.batch_size)
            applied = 0
            for tp, messages in batches.items():
                expected = self._next.get(tp, 0)
                for msg in messages:
                    self.apply(tp.topic, msg.key, msg.value)
                    expected = msg.offset + 1
                    applied += 1
                    if applied % self.yield_every == 0:
                        self._next[tp] = expected
                        await asyncio.sleep(0)  # let requests run inside a large batch too
                self._next[tp] = expected
            if applied:
                await asyncio.sleep(0)  # let requests run between batches
                if not self.status.caught_up:
                    self._check_caught_up()

    async def _refresh_assignment(self, consumer: AIOKafkaConsumer) -> None:
        """Assign every partition of the wanted topics that exist (new topics appear without a restart)."""
        try:
            existing = await asyncio.wait_for(consumer.topics(), self.probe_timeout)
        except Exception as exc:
            self._unreachable(exc)
            return
        wanted: set[TopicPartition] = set()
        for name, st in self.status.topics.items():
            if not st.schemas:
                continue
            parts = consumer.partitions_for_topic(name) if name in existing else None
            if not parts:
                st.skipped = "topic does not exist on the broker yet"
                continue
            st.skipped = None
            st.partitions = len(parts)
            wanted.update(TopicPartition(name, p) for p in parts)
        gone = sorted(tp for tp, position in self._next.items() if position > 0 and tp not in wanted)
        if gone:  # a topic we had read is not on the broker any more: read it from its start when it is back
            self._lost(gone, "gone from the broker")
            for tp in gone:
                del self._next[tp]
        current = consumer.assignment()
        if wanted == set(current):
            return
        consumer.assign(sorted(wanted))
        for tp in wanted:
            if tp in self._next:
                consumer.seek(tp, self._next[tp])
        new = [tp for tp in wanted if tp not in self._next]
        if new:
            starts = await asyncio.wait_for(consumer.beginning_offsets(new), self.probe_timeout)
            for tp in new:
                self._next[tp] = starts.get(tp, 0)
                consumer.seek(tp, self._next[tp])
        if self._initial_end is not None and new:
            self._initial_end = None  # catch up again on the new topics
            self.status.caught_up = False

    async def _probe(self, consumer: AIOKafkaConsumer) -> None:
        """Fetch end offsets: proves the broker answers and gives the lag per topic."""
        partitions = sorted(consumer.assignment())
        try:
            if partitions:
                ends = await asyncio.wait_for(consumer.end_offsets(partitions), self.probe_timeout)
            else:
                await asyncio.wait_for(consumer.topics(), self.probe_timeout)
                ends = {}
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._unreachable(exc if str(exc) else TimeoutError(f"no answer in {self.probe_timeout:.0f}s"))
            return
        if self.status.checked_at is not None:
            await self._rewind_lost(consumer, ends, was_unreachable=not self.status.broker_reachable)
        self.status.broker_reachable = True
        self.status.broker_error = None
        self.status.checked_at = time.time()
        if self._initial_end is None:
            self._initial_end = dict(ends)
        lags: dict[str, int] = {}
        for tp, end in ends.items():
            lags[tp.topic] = lags.get(tp.topic, 0) + max(0, end - self._next.get(tp, 0))
        for name, st in self.status.topics.items():
            st.lag = lags.get(name) if name in lags else (None if st.skipped else 0)
        self._check_caught_up()

    async def _rewind_lost(
        self, consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int], was_unreachable: bool
    ) -> None:
        """A partition whose end is now before our position lost its data (a new in-memory broker, a re-created
        topic). Read it again from its start; the views are idempotent.

        Without an outage seen in between (a restart quicker than the probe) the end alone proves nothing: the
        embedded broker may report a batch's base offset + 1 as the end. Its fetch responses carry the true
        high watermark, though: below our position, the partition lost what we read."""
        lost = [tp for tp, end in ends.items() if end < self._next.get(tp, 0)]
        if lost and not was_unreachable:
            lost = [tp for tp in lost if (hw := consumer.highwater(tp)) is not None and hw < self._next[tp]]
        if not lost:
            return
        self._lost(lost, "ending before what was read")
        starts = await asyncio.wait_for(consumer.beginning_offsets(lost), self.probe_timeout)
        for tp in lost:
            self._next[tp] = starts.get(tp, 0)
            consumer.seek(tp, self._next[tp])

    def _lost(self, partitions: list[TopicPartition], how: str) -> None:
        """The broker lost data we had read (restarted empty, topics re-created): not ready until caught up
        again on what it has now."""
        names = sorted({tp.topic for tp in partitions})
        self.status.lost_data = f"the broker lost data: {len(partitions)} partition(s) {how} ({', '.join(names)})"
        self.status.lost_at = time.monotonic()
        log.error("%s: reading them again from their start", self.status.lost_data)
        self.status.caught_up = False
        self._initial_end = None  # caught up again against the ends the broker has now

    def _check_caught_up(self) -> None:
        if self._initial_end is None:
            return
        # the embedded broker may report a batch's base offset + 1 as the end: never wait past what we read
        done = all(self._next.get(tp, 0) >= end for tp, end in self._initial_end.items())
        if done and not self.status.caught_up:
            log.info("read model caught up (%d records)", sum(t.records for t in self.status.topics.values()))
        held = time.monotonic() - self.status.lost_at >= LOST_DATA_HOLD_SECONDS
        if done and held and self.status.lost_data is not None:
            log.info("read model caught up again after %s", self.status.lost_data)
            self.status.lost_data = None
        self.status.caught_up = self.status.caught_up or done

    def describe(self) -> dict[str, Any]:
        """Status for ``/v1/system/read-model``."""
        ready, reason = self.readiness()
        return {
            "ready": ready,
            "reason": reason,
            "broker": self.bootstrap,
            "broker_reachable": self.status.broker_reachable,
            "broker_error": self.status.broker_error,
            "caught_up": self.status.caught_up,
            "lost_data": self.status.lost_data,
            "total_lag": self.status.total_lag,
            "topics": {
                name: {
                    "skipped": st.skipped,
                    "partitions": st.partitions,
                    "records": st.records,
                    "decode_errors": st.decode_errors,
                    "lag": st.lag,
                    "last_error": st.last_error,
                }
                for name, st in self.status.topics.items()
            },
            "views": {name: len(v) for name, v in {**self.keyed, **self.logs}.items()},
        }
