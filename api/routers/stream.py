"""Live streams (Server-Sent Events): a snapshot on connect, then every change as it is read from Kafka.

Every event kind (a record, a deletion, the snapshot) goes through the caller's league filter. Streams are
counted when admitted, per credential and in all (429 beyond either cap).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import APIRouter
from sse_starlette.sse import EventSourceResponse
from starlette.background import BackgroundTask

from api.deps import StateDep, Visibility, Visible
from api.exceptions import APIError
from api.views import KeyedView, LogView, dumps

router = APIRouter(prefix="/v1/stream", tags=["stream"])
PING_SECONDS = 15


def sse_event(change: dict[str, Any], event: str, visible: Visibility) -> dict[str, str] | None:
    """The SSE event for one view change, or None if the caller may not see it (whatever its kind)."""
    record = change.get("record")
    if record is None:
        if not visible.keeps(change.get("previous")):
            return None
        return {"event": f"{event}_deleted", "data": dumps({"key": change.get("key")}).decode()}
    if not visible.keeps(record):
        return None
    return {"event": event, "data": dumps(record).decode()}


async def _events(
    source: KeyedView | LogView, snapshot: list[dict], event: str, visible: Visibility, release: Callable[[], None]
) -> AsyncIterator[dict]:
    sub = source.subscribers.subscribe()  # before the snapshot is sent: no change is missed in between
    try:
        for record in snapshot:
            yield {"event": event, "data": dumps(record).decode()}
        yield {"event": "ready", "data": "{}"}
        while True:
            if sub.dropped and sub.queue.empty():
                yield {"event": "overflow", "data": '{"detail":"client too slow; reconnect"}'}
                return
            message = sse_event(await sub.queue.get(), event, visible)
            if message is not None:
                yield message
    finally:
        source.subscribers.unsubscribe(sub)
        release()


def _open_stream(
    state, visible: Visibility, source: KeyedView | LogView, snapshot: list[dict], event: str
) -> EventSourceResponse:
    """Admit the stream now (429 over a cap); its slot is released when the stream ends, however it ends."""
    key = visible.principal.rate_key
    slot = state.streams.admit(key)
    if slot is None:
        state.metrics.rate_limited.inc()
        raise APIError(429, "too many open streams; close one or retry later", {"Retry-After": "10"})
    state.metrics.sse_clients.set(state.streams.open)

    def release() -> None:
        slot()
        state.metrics.sse_clients.set(state.streams.open)

    return EventSourceResponse(
        _events(source, snapshot, event, visible, release),
        ping=PING_SECONDS,
        send_timeout=30,
        background=BackgroundTask(release),  # also runs when the generator never started
    )


@router.get("/games", summary="Game updates (event: game, game_deleted)")
async def stream_games(state: StateDep, visible: Visible) -> EventSourceResponse:
    view = state.read_model.keyed["games"]
    return _open_stream(state, visible, view, view.select(visible.keeps), "game")


@router.get("/alerts", summary="Alert transitions (event: alert); firing alerts first")
async def stream_alerts(state: StateDep, visible: Visible) -> EventSourceResponse:
    firing = state.read_model.keyed["alerts"].select(visible.where(status="firing"))
    return _open_stream(state, visible, state.read_model.logs["alert_history"], firing, "alert")
