"""The games agent: each play updates its game's state, win probability and significance, and may spend
the league account's daily tweet budget.

``plays`` -> ``play_decisions.decide`` (the code path of ``wirereport backtest plays``) -> tables ``games``
(GameState), ``game_decisions`` and ``tweet_budgets`` -> ``game-state``, ``tweet-commands``. The schedule comes
from ``league-events`` (co-partitioned with ``plays`` by league), kept in the ``schedule`` table.

This is the reference pattern for agents: take a batch, decode (bad input goes to dead letters), call pure
functions in input order, write each changed key once per batch (table + changelog), send the results.
"""

from __future__ import annotations

import faust

from streams.agent_context import AgentContext
from streams.game_state import apply_play, validate_play
from streams.play_decisions import account_for, decide
from streams.topics import topic
from streams.tweet_budget import ScheduleIndex


def _latest(changed: dict, table: faust.Table, key: str):
    """A key's value as of the events processed so far in this batch."""
    hit = changed.get((table.name, key))
    return hit[1] if hit else table.get(key)


def install(app: faust.App, ctx: AgentContext) -> None:
    plays_spec, events_spec = topic("plays"), topic("league-events")
    games = ctx.table("games", "GameState", source_topic="plays", help_text="Current state of each game.")
    decisions = ctx.table("game_decisions", "JsonState", source_topic="plays", help_text="Significance state.")
    budgets = ctx.table("tweet_budgets", "JsonState", source_topic="plays", help_text="Budget per account.")
    schedule = ctx.table("schedule", "ScheduledGame", source_topic="league-events", help_text="Scheduled games.")
    limit, tz = ctx.settings.tweets_per_day, ctx.settings.tweet_timezone
    batch, within = ctx.settings.worker_batch_size, ctx.settings.worker_batch_seconds
    index_cache: dict[str, object] = {"version": None, "index": ScheduleIndex((), tz)}
    schedule_version = [0]

    def schedule_index() -> ScheduleIndex:
        """The schedule by league and day, rebuilt only when the table changed."""
        version = (schedule_version[0], len(schedule.data))
        if index_cache["version"] != version:
            index_cache["index"] = ScheduleIndex(list(schedule.data.values()), tz)
            index_cache["version"] = version
        return index_cache["index"]  # type: ignore[return-value]

    @app.agent(ctx.topic("league-events"), name="schedule")
    async def keep_schedule(stream: faust.StreamT) -> None:
        async for events in stream.take_events(batch, within):
            for event in events:
                decoded = await ctx.decode(event, events_spec)
                if decoded is not None and decoded[0] == "ScheduledGame":
                    game = decoded[1]
                    ctx.store(schedule, game["game_id"], game, event.message.partition)
                    schedule_version[0] += 1

    @app.agent(ctx.topic("plays"), name="games")
    async def decide_plays(stream: faust.StreamT) -> None:
        async for events in stream.take_events(batch, within):
            index = schedule_index()
            changed: dict[tuple[str, str], tuple[int, dict]] = {}  # (table, key) -> (partition, value)
            commands: list[dict] = []

            for event in events:
                decoded = await ctx.decode(event, plays_spec, validate_play)
                if decoded is None:
                    continue
                play = decoded[1]
                game_id, account, partition = play["game_id"], account_for(play["league"]), event.message.partition
                state = apply_play(_latest(changed, games, game_id), play)
                if state is None:  # redelivered: decided before
                    continue
                decision, game_decision, budget = decide(
                    play,
                    _latest(changed, decisions, game_id),
                    _latest(changed, budgets, account),
                    index,
                    limit=limit,
                    tz=tz,
                )
                state["win_prob_home"] = decision["win_prob_home"]
                changed[(games.name, game_id)] = (partition, state)
                changed[(decisions.name, game_id)] = (partition, game_decision)
                changed[(budgets.name, account)] = (partition, budget)
                if decision["command"] is not None:
                    commands.append(decision["command"])

            states = [("game-state", value) for (name, _), (_, value) in changed.items() if name == games.name]
            await ctx.publish([("tweet-commands", c) for c in commands] + states)
            tables = {t.name: t for t in (games, decisions, budgets)}
            for (table_name, key), (partition, value) in changed.items():
                ctx.store(tables[table_name], key, value, partition)
