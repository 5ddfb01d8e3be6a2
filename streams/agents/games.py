"""The games agent: each play updates its game's state, win probability and significance, and may spend
the league account's daily tweet budget.

``plays`` -> ``play_decisions.decide`` (the code path of ``wirereport backtest plays``) -> tables ``games``
(GameState) and ``account_decisions`` (budget and decision state of each league account, one record so
it updates atomically) -> ``game-state``, ``tweet-commands``, ``tweet-budgets``. The schedule comes
from ``league-events`` (co-partitioned with ``plays`` by league), kept in the ``schedule`` table.

This is the reference pattern for agents: take a batch, decode (bad input goes to dead letters), call pure
functions in input order, write each changed key once per batch (table + changelog), send the results.
(The changelog writes wait for the outputs' acks; :class:`streams.runtime.agent_context.WriteBehind` does that
waiting in the background, so the next batch does not wait for the broker.)
"""

from __future__ import annotations

import faust

from streams.games.account_decisions import decide_for_account
from streams.games.game_state import apply_play, validate_play
from streams.games.play_decisions import account_for
from streams.games.tweet_budget import ScheduleIndex
from streams.games.tweet_budget import to_record as budget_record
from streams.runtime.agent_context import AgentContext
from streams.topics import topic


def _latest(changed: dict[str, tuple[int, dict]], table: faust.Table, key: str):
    """A key's value as of the events processed so far in this batch."""
    hit = changed.get(key)
    return hit[1] if hit else table.get(key)


def install(app: faust.App, ctx: AgentContext) -> None:
    plays_spec, events_spec = topic("plays"), topic("league-events")
    games = ctx.table("games", "GameState", source_topic="plays", help_text="Current state of each game.")
    accounts = ctx.table(
        "account_decisions", "JsonState", source_topic="plays", help_text="Budget and game decision states per account."
    )
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
        # Each batch's outputs go out at once; the batch is finished (outputs acknowledged, then changelogs, then
        # offsets) in the background while the next batch is decided on the tables' in-memory state.
        finishing = ctx.write_behind()
        async for events in ctx.batches(stream, batch, ack=False):
            index = schedule_index()
            changed_games: dict[str, tuple[int, dict]] = {}
            changed_accounts: dict[str, tuple[int, dict]] = {}
            commands: list[dict] = []
            latest_play_at: dict[str, object] = {}
            plays, failed = ctx.decode_batch(events, plays_spec, validate_play)
            await ctx.dead_letters(failed)
            for event, play in plays:
                game_id, account, partition = play["game_id"], account_for(play["league"]), event.message.partition
                decision, account_state = decide_for_account(
                    play, _latest(changed_accounts, accounts, account), index, limit=limit, tz=tz
                )
                changed_accounts[account] = (partition, account_state)
                latest_play_at[account] = play["occurred_at"]
                if decision["command"] is not None:
                    commands.append(decision["command"])
                state = apply_play(_latest(changed_games, games, game_id), play)
                if state is not None:  # None: a redelivered play the games table already has
                    state["win_prob_home"] = decision["win_prob_home"]
                    changed_games[game_id] = (partition, state)

            budgets = [
                ("tweet-budgets", budget_record(state["budget"], latest_play_at[account]))
                for account, (_, state) in changed_accounts.items()
            ]
            outputs = await ctx.send_outputs(
                [("tweet-commands", c) for c in commands]
                + [("game-state", s) for _, s in changed_games.values()]
                + budgets
            )
            ctx.update_memory(accounts, changed_accounts)
            ctx.update_memory(games, changed_games)
            await finishing.submit(outputs, [(accounts, changed_accounts), (games, changed_games)], events)
