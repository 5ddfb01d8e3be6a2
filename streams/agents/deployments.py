"""The deployments agents: the pure deployment manager on the Faust app.

The manager needs one global view (a league's live games, a canary's samples, all of a deployment's
reports), so three thin forwarders funnel its inputs into the one-partition ``deployment-manager-feed``:
``deployment-events`` (all), ``game-state`` (only when a game's live/not-live status changes) and
``system-metrics`` (samples with an error rate, latency or version). The ``deployments`` agent decodes the
feed, calls :class:`~streams.deployments.controller.DeploymentController` (pure), writes the ``deployments``
table (DeploymentState records, key deployment_id) and the ``deployment-context`` table (live games,
canary samples, running versions), and sends decisions to ``deployment-decisions`` and state to
``deployment-state``. A leader timer puts a ``tick`` event on the feed every second, so blocked requests,
bake times and timeouts are re-evaluated inside the agent (the single writer of both tables).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import faust
from faust.serializers.codecs import get_codec as faust_codec

from schemas.json_form import to_json
from streams.deployments.controller import DeploymentController, Output
from streams.deployments.manager import DeploymentPolicy
from streams.runtime.agent_context import AgentContext
from streams.runtime.changelog_catchup import install_catchup
from streams.runtime.faust_codec import Utf8Codec
from streams.topics import topic

FEED = "deployment-manager-feed"
FEED_KEY = b"deployments"


def _context_table(app: faust.App) -> faust.Table:
    """A one-partition table of JSON values: ``games``, ``versions`` and ``samples:<server_id>``."""
    table = app.Table("deployment-context", partitions=1, help="Deployment manager inputs: live games, samples.")
    table.key_serializer = Utf8Codec()
    table.value_serializer = faust_codec("json")
    table.changelog_topic = table._new_changelog_topic()
    install_catchup(app, table, FEED)
    return table


def install(app: faust.App, ctx: AgentContext) -> None:
    policy = DeploymentPolicy.from_settings(ctx.settings)
    feed = ctx.topic(FEED)
    feed_spec = topic(FEED)
    deployments = ctx.table("deployments", "DeploymentState", source_topic=FEED, help_text="Deployments by id.")
    context = _context_table(app)
    cache: dict[str, DeploymentController | None] = {"ctl": None}
    game_status: dict[str, bool] = {}  # forwarder memory: is this game live (per worker, per game-state partition)

    async def forward(event: faust.EventT) -> None:
        await feed.send(key=FEED_KEY, value=event.value, partition=0, force=True)

    @app.agent(ctx.topic("deployment-events"), name="deployments-events-in")
    async def events_in(stream: faust.StreamT) -> None:
        spec = topic("deployment-events")
        async for events in stream.take_events(ctx.settings.worker_batch_size, ctx.settings.worker_batch_seconds):
            for event in events:
                if await ctx.decode(event, spec) is not None:
                    await forward(event)

    @app.agent(ctx.topic("game-state"), name="deployments-games-in")
    async def games_in(stream: faust.StreamT) -> None:
        spec = topic("game-state")
        async for events in stream.take_events(ctx.settings.worker_batch_size, ctx.settings.worker_batch_seconds):
            for event in events:
                decoded = await ctx.decode(event, spec, report=False)
                if decoded is None:
                    continue
                game = decoded[1]
                live = game["status"] == "live"
                if game_status.get(game["game_id"]) != live:
                    game_status[game["game_id"]] = live
                    await forward(event)

    @app.agent(ctx.topic("system-metrics"), name="deployments-metrics-in")
    async def metrics_in(stream: faust.StreamT) -> None:
        spec = topic("system-metrics")
        async for events in stream.take_events(ctx.settings.worker_batch_size, ctx.settings.worker_batch_seconds):
            for event in events:
                decoded = await ctx.decode(event, spec, report=False)
                if decoded is None:
                    continue
                m = decoded[1]
                if m.get("error_rate") is not None or m.get("latency_ms") is not None or m.get("version"):
                    await forward(event)

    @app.timer(1.0, on_leader=True)
    async def tick() -> None:
        now = datetime.now(UTC)
        event = {
            "event_id": uuid.uuid4().hex,
            "kind": "tick",
            "deployment_id": "",
            "server_id": "*",
            "occurred_at": now,
        }
        await feed.send(key=FEED_KEY, value=ctx.codec.encode("DeploymentEvent", event), partition=0, force=True)

    @app.on_partitions_revoked.connect
    async def _forget(*_: Any, **__: Any) -> None:  # rebuilt from the recovered tables at the next batch
        cache["ctl"] = None

    def controller() -> DeploymentController:
        if cache["ctl"] is None:
            ctl = DeploymentController(policy)
            ctl.deployments = {k: to_json("DeploymentState", v) for k, v in deployments.data.items()}
            ctl.games = dict(context.data.get("games") or {})
            ctl.versions = dict(context.data.get("versions") or {})
            ctl.samples = {k.split(":", 1)[1]: list(v) for k, v in context.data.items() if k.startswith("samples:")}
            cache["ctl"] = ctl
        return cache["ctl"]

    def write_context(key: str, value: Any) -> None:
        context.data[key] = value
        context.send_changelog(0, key, value)

    @app.agent(feed, name="deployments")
    async def manage(stream: faust.StreamT) -> None:
        async for events in stream.take_events(ctx.settings.worker_batch_size, ctx.settings.worker_batch_seconds):
            ctl = controller()
            games_before, versions_before = dict(ctl.games), dict(ctl.versions)
            servers_sampled: set[str] = set()
            out = Output()
            for event in events:
                decoded = await ctx.decode(event, feed_spec)
                if decoded is None:
                    continue
                schema, record = decoded
                if schema == "SystemMetrics":
                    servers_sampled.add(record["server_id"])
                out.extend(ctl.handle(schema, record, datetime.now(UTC)))
            out.extend(ctl.tick(datetime.now(UTC)))
            if ctl.games != games_before:
                write_context("games", ctl.games)
            if ctl.versions != versions_before:
                write_context("versions", ctl.versions)
            for server in servers_sampled:
                write_context(f"samples:{server}", ctl.samples[server])
            for decision in out.decisions:
                await ctx.send("deployment-decisions", decision)
            for state in out.states:
                deployments.data[state["deployment_id"]] = state
                deployments.send_changelog(0, state["deployment_id"], state)
                await ctx.send("deployment-state", state)
