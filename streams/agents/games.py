"""The games agent: folds ``plays`` into the ``games`` table and publishes each change to ``game-state``.

The reference pattern for agents: take a batch, decode (bad input to dead letters), call pure functions,
write each changed key once per batch (table + changelog), send the results.
"""

from __future__ import annotations

import faust

from streams.agent_context import AgentContext
from streams.game_state import apply_play, validate_play
from streams.topics import topic


def install(app: faust.App, ctx: AgentContext) -> None:
    plays_spec = topic("plays")
    plays = ctx.topic("plays")
    games = ctx.table("games", "GameState", source_topic="plays", help_text="Current state of each game.")

    @app.agent(plays, name="games")
    async def fold_plays(stream: faust.StreamT) -> None:
        async for events in stream.take_events(ctx.settings.worker_batch_size, ctx.settings.worker_batch_seconds):
            changed: dict[str, tuple[int, dict]] = {}
            for event in events:
                decoded = await ctx.decode(event, plays_spec, validate_play)
                if decoded is None:
                    continue
                play = decoded[1]
                game_id = play["game_id"]
                current = changed[game_id][1] if game_id in changed else games.get(game_id)
                new_state = apply_play(current, play)
                if new_state is not None:
                    changed[game_id] = (event.message.partition, new_state)
            for game_id, (partition, state) in changed.items():
                games.data[game_id] = state
                games.send_changelog(partition, game_id, state)
                await ctx.send("game-state", state)
