"""The games agents: ``plays`` and the schedule from ``league-events`` through :class:`streams.games.steps.GamesStep`.

Tables ``games`` (GameState), ``account_decisions`` (budget and decision state of each league account) and
``schedule`` (ScheduledGame); outputs ``game-state``, ``tweet-commands``, ``tweet-budgets``. ``league-events``
is co-partitioned with ``plays`` by league, so a league's schedule is on the worker that decides its plays.
``tweets.actions`` flags go from ``feature-flags`` into ``games-flags`` (co-partitioned the same way) and the
``tweet_flags`` table: an account switched off decides and records, and emits no tweet command.
``tweet-receipts`` is read whole by every worker: an account whose budget state is missing (a table the broker
lost) starts from what the publisher reports it posted.
"""

from __future__ import annotations

import asyncio
import logging

import faust

from streams.games.game_state import validate_play
from streams.games.steps import FLAGS_FEED, GamesStep, PostedTweets, flag_target
from streams.runtime.agent_context import AgentContext, StepRunner, forward
from streams.topics import topic

log = logging.getLogger(__name__)

RECEIPTS_WAIT_SECONDS = 15.0  # the longest the first plays wait for the receipts (a broker slow to answer)


def install(app: faust.App, ctx: AgentContext) -> None:
    tables = {
        "games": ctx.table("games", "GameState", source_topic="plays", help_text="Current state of each game."),
        "account_decisions": ctx.table(
            "account_decisions", "JsonState", source_topic="plays", help_text="Budget and game decision states."
        ),
        "schedule": ctx.table("schedule", "ScheduledGame", source_topic="league-events", help_text="Scheduled games."),
        "tweet_flags": ctx.table(
            "tweet_flags", "FeatureFlag", source_topic=FLAGS_FEED.name, help_text="tweets.actions flags per account."
        ),
    }
    posted = PostedTweets()
    receipts_read = asyncio.Event()
    step = GamesStep(limit=ctx.settings.tweets_per_day, tz=ctx.settings.tweet_timezone, posted=posted)
    plays = StepRunner(ctx, step, tables)
    schedule = StepRunner(ctx, step, tables)
    flags = StepRunner(ctx, step, tables)

    @app.agent(ctx.topic("feature-flags"), name="games-route-flags")
    async def route_flags(stream: faust.StreamT) -> None:
        await forward(ctx, stream, topic("feature-flags"), FLAGS_FEED, flag_target)

    @app.agent(ctx.topic(FLAGS_FEED.name), name="games-flags")
    async def keep_flags(stream: faust.StreamT) -> None:
        await flags.run(stream, FLAGS_FEED)

    @app.task
    async def follow_receipts() -> None:
        await ctx.follow("tweet-receipts", posted.add, receipts_read)

    @app.agent(ctx.topic("league-events"), name="schedule")
    async def keep_schedule(stream: faust.StreamT) -> None:
        await schedule.run(stream, topic("league-events"))

    @app.agent(ctx.topic("plays"), name="games")
    async def decide_plays(stream: faust.StreamT) -> None:
        # a budget rebuilt after a loss must count what was posted before the first play is decided
        try:
            await asyncio.wait_for(receipts_read.wait(), RECEIPTS_WAIT_SECONDS)
        except TimeoutError:
            log.warning(
                "tweet-receipts not read in %.0fs: budgets rebuilt now may miss earlier posts", RECEIPTS_WAIT_SECONDS
            )
        await plays.run(stream, topic("plays"), validate_play)
