"""The health agent: ``system-metrics`` -> health rules -> ``alerts``, ``server-health``, ``remediation-commands``.

Per server the ``health`` table holds a HealthState (rule state + remediation state). A batch of samples is
folded with the pure ``evaluate_sample``; the Alert transitions go through the pure ``remediate_all``. A
timer fires ``ServerDown`` for servers past their heartbeat deadline between samples. Each server's clock is
its last ``observed_at`` plus the wall time elapsed since that sample was processed: a server whose clock is
skewed, or a backlog replayed after a restart, does not make a server look down; silence does.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import faust

from streams.health.remediation import RemediationConfig, remediate_all
from streams.health.rules import HealthConfig, check_heartbeat, evaluate_sample, server_health
from streams.health.system_metrics import validate_metrics
from streams.runtime.agent_context import AgentContext
from streams.topics import topic

HEARTBEAT_CHECK_SECONDS = 5.0


def _remediation_default() -> dict:
    return {"restarts": [], "issued": [], "escalated_at": None, "escalation_open": None}


def install(app: faust.App, ctx: AgentContext) -> None:
    spec = topic("system-metrics")
    metrics = ctx.topic("system-metrics")
    table = ctx.table("health", "HealthState", source_topic="system-metrics", help_text="Health state per server.")
    config = HealthConfig.from_settings(ctx.settings)
    rconfig = RemediationConfig.from_settings(ctx.settings)
    processed_at: dict[str, float] = {}  # server_id -> monotonic time its last sample was processed

    def server_now(server_id: str, state: dict) -> datetime | None:
        """The server's clock: its last sample time plus the wall time since we processed that sample."""
        if state.get("last_seen") is None:
            return None
        since = processed_at.setdefault(server_id, time.monotonic())  # after a restart: from now on
        return datetime.fromtimestamp(state["last_seen"] / 1000, UTC) + timedelta(seconds=time.monotonic() - since)

    def react(state: dict, alerts: list[dict]) -> tuple[dict, list[dict], list[dict]]:
        """Remediation of a server's new alerts; returns (state, alerts to send, commands to send)."""
        rem, commands, escalations = remediate_all(state.get("remediation") or _remediation_default(), alerts, rconfig)
        return {**state, "remediation": rem}, alerts + escalations, commands

    async def publish(changed: dict[str, dict], alerts: list[dict], commands: list[dict]) -> None:
        for server_id, state in changed.items():  # all table writes before the first await (timer vs agent)
            table.data[server_id] = state
            table.send_changelog(state["partition"], server_id, state)
        for state in changed.values():
            await ctx.send("server-health", server_health(state, config))
        for alert in alerts:
            await ctx.send("alerts", alert)
        for command in commands:
            await ctx.send("remediation-commands", command)

    @app.agent(metrics, name="health")
    async def evaluate(stream: faust.StreamT) -> None:
        async for events in stream.take_events(ctx.settings.worker_batch_size, ctx.settings.worker_batch_seconds):
            changed: dict[str, dict] = {}
            alerts: list[dict] = []
            commands: list[dict] = []
            for event in events:
                decoded = await ctx.decode(event, spec, validate_metrics)
                if decoded is None:
                    continue
                sample = decoded[1]
                sid = sample["server_id"]
                processed_at[sid] = time.monotonic()
                current = changed.get(sid) or table.get(sid)
                state, fired = evaluate_sample(current, sample, config)
                state, fired, cmds = react({**state, "partition": event.message.partition}, fired)
                changed[sid] = state
                alerts += fired
                commands += cmds
            await publish(changed, alerts, commands)

    @app.timer(interval=HEARTBEAT_CHECK_SECONDS)
    async def heartbeat() -> None:
        changed: dict[str, dict] = {}
        alerts: list[dict] = []
        commands: list[dict] = []
        for server_id, current in list(table.data.items()):
            current_time = server_now(server_id, current)
            if current_time is None:
                continue
            state, fired = check_heartbeat(current, current_time, config)
            if fired:
                changed[server_id], fired, cmds = react(state, fired)
                alerts += fired
                commands += cmds
        await publish(changed, alerts, commands)
