"""The health agent: ``system-metrics`` -> :class:`streams.health.steps.HealthStep` -> ``alerts``,
``server-health``, ``remediation-commands``; a timer sends a heartbeat ``Tick`` through the same step, so a
server that went silent between samples is found down.
"""

from __future__ import annotations

import faust

from streams.health.remediation import RemediationConfig
from streams.health.rules import HealthConfig
from streams.health.steps import HealthStep
from streams.health.system_metrics import validate_metrics
from streams.runtime.agent_context import AgentContext, StepRunner
from streams.topics import topic

HEARTBEAT_CHECK_SECONDS = 5.0


def install(app: faust.App, ctx: AgentContext) -> None:
    table = ctx.table("health", "HealthState", source_topic="system-metrics", help_text="Health state per server.")
    step = HealthStep(HealthConfig.from_settings(ctx.settings), RemediationConfig.from_settings(ctx.settings))
    runner = StepRunner(ctx, step, {"health": table})

    @app.agent(ctx.topic("system-metrics"), name="health")
    async def evaluate(stream: faust.StreamT) -> None:
        await runner.run(stream, topic("system-metrics"), validate_metrics)

    @app.timer(interval=HEARTBEAT_CHECK_SECONDS)
    async def heartbeat() -> None:
        await runner.tick({})
