"""The context's output observer: sees each batch of outputs before they are sent; failing, it stops nothing."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from streams.runtime.agent_context import AgentContext
from streams.runtime.steps import Failure
from streams.settings import Settings


class Producer:
    def __init__(self):
        self.sent: list[tuple[str, bytes]] = []

    async def send(self, topic, key, value, partition, timestamp, headers):
        self.sent.append((topic, key))
        future = asyncio.get_running_loop().create_future()
        future.set_result(None)
        return future


class App:
    def __init__(self):
        self.producer = Producer()


def budget(account: str) -> dict:
    return {
        "account": account,
        "day": "2026-01-01",
        "limit": 17,
        "used": 3,
        "tweeted": [],
        "games": {},
        "updated_at": None,
        "ratings_season": None,
        "ratings": {},
        "recent_tweets": [],
    }


async def test_the_observer_sees_every_batch_of_outputs_and_they_are_sent():
    app = App()
    ctx = AgentContext(app, Settings())  # type: ignore[arg-type]
    seen = []
    ctx.observer = seen.append
    outputs = [("tweet-budgets", budget("nfl-main")), ("tweet-budgets", budget("nba-main"))]
    await ctx.send_outputs(outputs)
    assert seen == [outputs]
    assert [key for _, key in app.producer.sent] == [b"nfl-main", b"nba-main"]


async def test_a_failing_observer_does_not_stop_the_outputs():
    app = App()
    ctx = AgentContext(app, Settings())  # type: ignore[arg-type]
    ctx.observer = lambda outputs: 1 / 0
    await ctx.send_outputs([("tweet-budgets", budget("nfl-main"))])
    assert [key for _, key in app.producer.sent] == [b"nfl-main"]


async def test_the_observer_sees_each_dead_letter_with_its_source_and_reason():
    app = App()
    ctx = AgentContext(app, Settings())  # type: ignore[arg-type]
    seen = []
    ctx.observer = seen.extend
    message = SimpleNamespace(topic="plays", partition=2, offset=7, key=b"g1", value=b"\x00garbage")
    await ctx.send_dead_letters([Failure(SimpleNamespace(message=message), "bad magic bytes")])
    assert [(name, letter["source_topic"], letter["offset"], letter["reason"]) for name, letter in seen] == [
        ("dead-letters", "plays", 7, "bad magic bytes")
    ]
    assert [topic for topic, _ in app.producer.sent] == ["dead-letters"]
