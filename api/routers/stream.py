"""Live streams (Server-Sent Events): a snapshot on connect, then every change as it is read from Kafka."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from fastapi import APIRouter
from sse_starlette.sse import EventSourceResponse

from api.deps import Reader, StateDep
from api.exceptions import APIError
from api.models import League
from api.views import KeyedView, LogView, dumps

router = APIRouter(prefix="/v1/stream", tags=["stream"])
PING_SECONDS = 15


async def _events(
    state, source: KeyedView | LogView, snapshot: list[dict], event: str, keep: Callable[[dict], bool]
) -> AsyncIterator[dict]:
    sub = source.subscribers.subscribe()  # before the snapshot: no change is missed in between
    state.sse_clients += 1
    state.metrics.sse_clients.inc()
    try:
        for record in snapshot:
            yield {"event": event, "data": dumps(record).decode()}
        yield {"event": "ready", "data": "{}"}
        while True:
            if sub.dropped and sub.queue.empty():
                yield {"event": "overflow", "data": '{"detail":"client too slow; reconnect"}'}
                return
            change = await sub.queue.get()
            record = change.get("record")
            if record is None:
                yield {"event": f"{event}_deleted", "data": dumps({"key": change.get("key")}).decode()}
            elif keep(record):
                yield {"event": event, "data": dumps(record).decode()}
    finally:
        source.subscribers.unsubscribe(sub)
        state.sse_clients -= 1
        state.metrics.sse_clients.dec()


def _admit(state) -> None:
    if state.sse_clients >= state.settings.api_sse_max_clients:
        raise APIError(503, "too many open streams; retry later", {"Retry-After": "10"})


@router.get("/games", summary="Game updates (event: game)")
async def stream_games(state: StateDep, principal: Reader, league: League | None = None) -> EventSourceResponse:
    _admit(state)

    def keep(g: dict) -> bool:
        return (league is None or g.get("league") == league) and principal.may_see(g.get("league"))

    view = state.read_model.keyed["games"]
    return EventSourceResponse(
        _events(state, view, view.select(keep), "game", keep), ping=PING_SECONDS, send_timeout=30
    )


@router.get("/alerts", summary="Alert transitions (event: alert); firing alerts first")
async def stream_alerts(state: StateDep, principal: Reader, league: League | None = None) -> EventSourceResponse:
    _admit(state)

    def keep(a: dict) -> bool:
        return (league is None or a.get("league") == league) and principal.may_see(a.get("league"))

    firing = state.read_model.keyed["alerts"].select(lambda a: a.get("status") == "firing" and keep(a))
    return EventSourceResponse(
        _events(state, state.read_model.logs["alert_history"], firing, "alert", keep),
        ping=PING_SECONDS,
        send_timeout=30,
    )
