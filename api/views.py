"""In-memory views of the read model: latest record per key, and bounded logs of recent commands.

Records are kept in their JSON form; each view has a version (bumped on every change) and each keyed
record caches its serialized body and a content ETag, so hot GETs return bytes without re-serializing.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

PREVIEW_BYTES = 256  # of a dead letter's raw key and value, for the console (admins of every league only)


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dumps(obj: Any) -> bytes:
    """Compact, key-sorted JSON bytes (the same content always gives the same bytes, hence the same ETag)."""
    return json.dumps(obj, default=_default, separators=(",", ":"), sort_keys=True).encode()


def etag_of(body: bytes) -> str:
    return '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """RFC 9110 weak comparison of an ``If-None-Match`` header against ``etag``."""
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    bare = etag.removeprefix("W/")
    return any(t.strip().removeprefix("W/") == bare for t in if_none_match.split(","))


class Subscription:
    """One SSE subscriber's queue; ``dropped`` is set when it fell too far behind."""

    def __init__(self, size: int):
        self.queue: asyncio.Queue = asyncio.Queue(size)
        self.dropped = False


class Subscribers:
    """Fan-out of view changes to SSE subscribers; a subscriber that falls behind is dropped (it reconnects)."""

    def __init__(self, queue_size: int = 1000):
        self.queue_size = queue_size
        self._subs: set[Subscription] = set()

    def __len__(self) -> int:
        return len(self._subs)

    def subscribe(self) -> Subscription:
        sub = Subscription(self.queue_size)
        self._subs.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._subs.discard(sub)

    def publish(self, event: dict[str, Any]) -> None:
        for sub in list(self._subs):
            try:
                sub.queue.put_nowait(event)
            except asyncio.QueueFull:
                sub.dropped = True
                self._subs.discard(sub)


class KeyedView:
    """Latest record per key (a compacted topic's current state)."""

    def __init__(self, name: str, key_field: str):
        self.name = name
        self.key_field = key_field
        self.version = 0
        self._records: dict[str, dict[str, Any]] = {}
        self._bodies: dict[str, tuple[bytes, str]] = {}
        self.subscribers = Subscribers()

    def __len__(self) -> int:
        return len(self._records)

    def apply(self, key: str, record: dict[str, Any] | None) -> None:
        """Set (or delete, for a tombstone) the record of ``key`` and notify subscribers."""
        if record is None:
            previous = self._records.pop(key, None)
            if previous is None:
                return
            self._bodies.pop(key, None)
            # the deleted record goes along so that subscribers can tell whose it was (league filter)
            event = {"key": key, "deleted": True, "previous": previous}
        else:
            self._records[key] = record
            self._bodies.pop(key, None)
            event = {"key": key, "record": record}
        self.version += 1
        if self.subscribers:
            self.subscribers.publish(event)

    def get(self, key: str) -> dict[str, Any] | None:
        return self._records.get(key)

    def body(self, key: str) -> tuple[bytes, str] | None:
        """Serialized record and its ETag (cached until the record changes)."""
        cached = self._bodies.get(key)
        if cached is None:
            record = self._records.get(key)
            if record is None:
                return None
            body = dumps(record)
            cached = self._bodies[key] = (body, etag_of(body))
        return cached

    def values(self) -> Iterable[dict[str, Any]]:
        return self._records.values()

    def select(self, predicate: Callable[[dict[str, Any]], bool] | None = None) -> list[dict[str, Any]]:
        """Records matching ``predicate``, ordered by key (stable pages)."""
        keys = sorted(self._records)
        return [self._records[k] for k in keys if predicate is None or predicate(self._records[k])]


class LogView:
    """The most recent records of a command/event topic, newest last, bounded; deduplicated by an id field."""

    def __init__(
        self, name: str, maxlen: int, id_field: str | tuple[str, ...] | None = None, index_field: str | None = None
    ):
        self.name = name
        self.maxlen = maxlen
        self.id_field = id_field
        self.index_field = index_field
        self.version = 0
        self._records: deque[dict[str, Any]] = deque()
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._index: dict[str, list[dict[str, Any]]] = {}
        self.subscribers = Subscribers()

    def __len__(self) -> int:
        return len(self._records)

    def append(self, record: dict[str, Any]) -> bool:
        """Add ``record`` unless its id was already seen (at-least-once delivery); return whether added."""
        if self.id_field and (rid := self._id_of(record)) is not None:
            if rid in self._ids:
                return False
            self._ids[rid] = None
            if len(self._ids) > self.maxlen * 2:
                self._ids.popitem(last=False)
        self._records.append(record)
        if self.index_field and (ikey := record.get(self.index_field)) is not None:
            self._index.setdefault(str(ikey), []).append(record)
        if len(self._records) > self.maxlen:
            old = self._records.popleft()
            if self.index_field and (okey := old.get(self.index_field)) is not None:
                bucket = self._index.get(str(okey), [])
                if bucket and bucket[0] is old:
                    bucket.pop(0)
                if not bucket:
                    self._index.pop(str(okey), None)
        self.version += 1
        if self.subscribers:
            self.subscribers.publish({"record": record})
        return True

    def _id_of(self, record: dict[str, Any]) -> Any:
        if isinstance(self.id_field, tuple):
            return tuple(record.get(f) for f in self.id_field)
        return record.get(self.id_field)

    def recent(self, predicate: Callable[[dict[str, Any]], bool] | None = None) -> list[dict[str, Any]]:
        """Matching records, newest first."""
        return [r for r in reversed(self._records) if predicate is None or predicate(r)]

    def by_index(self, key: str) -> list[dict[str, Any]]:
        return list(self._index.get(key, ()))


class DeadLetterSummary:
    """Counts of dead letters per source topic and reason, and the most recent ones (without their raw bytes)."""

    def __init__(self, maxlen: int = 100):
        self.version = 0
        self.total = 0
        self.by_topic: dict[str, int] = {}
        self.by_reason: dict[str, int] = {}
        self.recent: deque[dict[str, Any]] = deque(maxlen=maxlen)

    def add(self, record: dict[str, Any]) -> None:
        topic = str(record.get("source_topic", "?"))
        reason = str(record.get("reason", "?")).split(":", 1)[0][:80]
        self.total += 1
        self.by_topic[topic] = self.by_topic.get(topic, 0) + 1
        self.by_reason[reason] = self.by_reason.get(reason, 0) + 1
        # never expose the raw message: it may hold anything a producer sent
        self.recent.append({k: v for k, v in record.items() if k not in ("value", "key")})
        self.version += 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "by_topic": dict(sorted(self.by_topic.items())),
            "by_reason": dict(sorted(self.by_reason.items())),
            "recent": list(reversed(self.recent)),
        }


def raw_preview(encoded: str | None, limit: int = PREVIEW_BYTES) -> dict[str, Any] | None:
    """The first ``limit`` bytes of a base64 field (JSON form of Avro bytes) as hex and as UTF-8 text."""
    if encoded is None:
        return None
    try:
        raw = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError, TypeError):
        return {"size": None, "hex": "", "text": str(encoded)[:limit], "truncated": False}
    head = raw[:limit]
    return {
        "size": len(raw),
        "hex": head.hex(" "),
        "text": head.decode("utf-8", errors="replace"),
        "truncated": len(raw) > limit,
    }
