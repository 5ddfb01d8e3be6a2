"""The deployments agents: the pure deployment manager (:class:`streams.deployments.steps.DeploymentsStep`) on
the Faust app, fed by three forwarders into the one-partition ``deployment-manager-feed``, and a leader timer
that puts a ``tick`` event on the feed every second.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import faust
from faust.serializers.codecs import get_codec as faust_codec

from streams.deployments.manager import DeploymentPolicy
from streams.deployments.steps import FEED, FEED_KEY, DeploymentsStep, LiveStatusChanges, event_target, metrics_target
from streams.runtime.agent_context import AgentContext, StepRunner, forward
from streams.runtime.changelog_catchup import install_catchup
from streams.runtime.faust_codec import Utf8Codec
from streams.topics import topic


def _context_table(app: faust.App) -> faust.Table:
    """A one-partition table of JSON values: ``games``, ``versions`` and ``samples:<server_id>``."""
    table = app.Table("deployment-context", partitions=1, help="Deployment manager inputs: live games, samples.")
    table.key_serializer = Utf8Codec()
    table.value_serializer = faust_codec("json")
    table.changelog_topic = table._new_changelog_topic()
    install_catchup(app, table, FEED)
    return table


def install(app: faust.App, ctx: AgentContext) -> None:
    tables = {
        "deployments": ctx.table("deployments", "DeploymentState", source_topic=FEED, help_text="Deployments by id."),
        "deployment-context": _context_table(app),
    }
    step = DeploymentsStep(DeploymentPolicy.from_settings(ctx.settings))
    runner = StepRunner(ctx, step, tables)
    # input topic -> (which records go to the manager, whether this agent reports what does not decode: the
    # main readers of game-state and system-metrics report a bad message once)
    inputs = {
        "deployment-events": (event_target, True),
        "game-state": (LiveStatusChanges(), False),
        "system-metrics": (metrics_target, False),
    }
    for name, (select, report) in inputs.items():

        async def route(stream: faust.StreamT, spec=topic(name), select=select, report=report) -> None:
            await forward(ctx, stream, spec, topic(FEED), select, report=report)

        app.agent(ctx.topic(name), name=f"deployments-{name}-in")(route)

    @app.timer(1.0, on_leader=True)
    async def tick() -> None:
        event = {
            "event_id": uuid.uuid4().hex,
            "kind": "tick",
            "deployment_id": "",
            "server_id": "*",
            "occurred_at": datetime.now(UTC),
        }
        await ctx.send_raw(FEED, FEED_KEY, ctx.codec.encode("DeploymentEvent", event), 0)

    @app.on_partitions_revoked.connect
    async def _forget(*_: Any, **__: Any) -> None:  # rebuilt from the recovered tables at the next batch
        step.forget()

    @app.agent(ctx.topic(FEED), name="deployments")
    async def manage(stream: faust.StreamT) -> None:
        await runner.run(stream, topic(FEED))
