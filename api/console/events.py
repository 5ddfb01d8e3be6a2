"""One SSE stream per console page, carrying the changes of the views that page shows (event name: the view).

On connect the stream repeats the current records of the page's keyed views and the latest records of its logs, so
a change made between the page's render and the stream's start is not missed (the page applies them idempotently,
by key). Every event goes through the caller's league filter, and the stream takes one of the credential's SSE slots.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

from sse_starlette.sse import EventSourceResponse
from starlette.background import BackgroundTask

from api.deps import AppState, Visibility
from api.exceptions import APIError
from api.routers.stream import PING_SECONDS, sse_event
from api.views import KeyedView, LogView, Subscription, dumps

CONSOLE_VIEWS = (  # what a console page may follow: the read model's view names
    "games",
    "tweets",
    "tweet_receipts",
    "budgets",
    "scaling",
    "forecasts",
    "scaling_history",
    "overrides",
    "events",
    "flags",
    "publisher_controls",
    "servers",
    "alerts",
    "silences",
    "breakers",
    "deployments",
    "decisions",
)
LOG_REPLAY = 20  # latest records of a log view repeated on connect
MERGED_QUEUE = 1000


def _snapshot(view: KeyedView | LogView, visible: Visibility) -> list[dict]:
    if isinstance(view, KeyedView):
        return view.select(visible.keeps)
    return list(reversed(view.recent(visible.keeps)[:LOG_REPLAY]))


async def _pump(name: str, sub: Subscription, merged: asyncio.Queue) -> None:
    """Move one view's changes into the page's queue; ``None`` tells that the view dropped this subscriber."""
    while True:
        if sub.dropped and sub.queue.empty():
            await merged.put((name, None))
            return
        await merged.put((name, await sub.queue.get()))


async def console_events(
    views: dict[str, KeyedView | LogView], visible: Visibility, release: Callable[[], None]
) -> AsyncIterator[dict]:
    merged: asyncio.Queue = asyncio.Queue(MERGED_QUEUE)
    subs = {name: view.subscribers.subscribe() for name, view in views.items()}  # before the snapshot
    pumps = [asyncio.create_task(_pump(name, sub, merged)) for name, sub in subs.items()]
    try:
        for name, view in views.items():
            for record in _snapshot(view, visible):
                yield {"event": name, "data": dumps(record).decode()}
        yield {"event": "ready", "data": "{}"}
        while True:
            name, change = await merged.get()
            if change is None:
                yield {"event": "overflow", "data": '{"detail":"client too slow; reconnect"}'}
                return
            message = sse_event(change, name, visible)
            if message is not None:
                yield message
    finally:
        for task in pumps:
            task.cancel()
        for task in pumps:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for name, sub in subs.items():
            views[name].subscribers.unsubscribe(sub)
        release()


def open_console_stream(state: AppState, visible: Visibility, wanted: list[str]) -> EventSourceResponse:
    """Admit the stream (429 over the credential's or the API's cap of open streams) and start it."""
    views = {name: view for name in wanted if (view := state.read_model.view(name)) is not None}
    slot = state.streams.admit(visible.principal.rate_key)
    if slot is None:
        state.metrics.rate_limited.inc()
        raise APIError(429, "too many open streams; close a console tab or retry later", {"Retry-After": "10"})
    state.metrics.sse_clients.set(state.streams.open)

    def release() -> None:
        slot()
        state.metrics.sse_clients.set(state.streams.open)

    return EventSourceResponse(
        console_events(views, visible, release),
        ping=PING_SECONDS,
        send_timeout=30,
        headers={"Cache-Control": "no-store"},
        background=BackgroundTask(release),
    )
