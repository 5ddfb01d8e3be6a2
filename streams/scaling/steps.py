"""The scaling agent's step: a league's metrics, games, events and overrides -> forecasts -> policy.

Inputs come from ``scaling-feed`` (:func:`feed_target` re-keys ``system-metrics``, ``league-events`` and
``scaling-overrides`` into it by league; its one partition holds every league, so one worker decides for all
and the ``max_total_agents`` limit counts every league's pool). Per league the ``scaling`` table holds the
ScalingState record (policy state + the open metrics interval). The online forecasters are a cache of this
worker (:class:`Forecasters`; the agent snapshots them to disk and refits them in another process). Outputs:
``scaling-commands``, and once per batch ``scaling-state`` and ``load-forecasts`` per changed league.

Operators can take back what they said: a ScalingOverride or LeagueEvent with ``cancelled: true`` removes the
override or event of that id at once. ``scaling.actions`` flags (``feature-flags``, forwarded into the feed and
kept in the ``scaling-flags`` table) switch a league, or every league, to ``forecast-only``: the step still
forecasts and records in the league's history what it would do, and emits no scaling command. An emergency cut
that is emitted also goes to ``alerts`` (notified once by the alert router).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

from streams.runtime.alerts import event_alert
from streams.runtime.feature_flags import SCALING_ACTIONS, flag_value, validate_flag
from streams.runtime.steps import Effects, Input, TableView
from streams.scaling.forecasting.ensemble import LeagueForecaster
from streams.scaling.forecasting.records import forecast_record
from streams.scaling.league_profiles import LeagueProfile, scaling_sensitivity
from streams.scaling.policy import (
    EMERGENCY,
    PolicyConfig,
    add_league_event,
    add_override,
    decide,
)
from streams.scaling.state import add_metrics, from_record, new_league_state, to_record
from streams.scaling.validation import validate_scaling_input
from streams.topics import topic

FEED = topic("scaling-feed")
GLOBAL_FLAGS_KEY = "*"  # the feed key of flags of every league


def feed_target(schema: str, record: dict[str, Any]) -> tuple[bytes, int | None] | None:
    """Where an input goes on ``scaling-feed`` (its league's key and partition), None for a flag that is not the
    scaling's; ``InvalidRecord`` if it is bad (a cancellation is applied whatever its other fields say)."""
    if schema == "FeatureFlag":
        if record["name"] != SCALING_ACTIONS:
            return None
        validate_flag(record)
        league = record.get("league") or GLOBAL_FLAGS_KEY
    else:
        if not record.get("cancelled"):
            validate_scaling_input(schema, record)
        league = record["league"]
    return league.encode(), FEED.partition_of({"league": league})


def cancel(state: dict, schema: str, record: dict[str, Any]) -> dict:
    """The league state without the override (ScalingOverride) or event (LeagueEvent) that ``record`` cancels."""
    if schema == "ScalingOverride":
        return {**state, "overrides": {k: o for k, o in state["overrides"].items() if k != record["override_id"]}}
    return {**state, "events": [e for e in state["events"] if e[3] != record["event_id"]]}


class Forecasters:
    """Each league's online forecaster (this worker's memory, snapshotted by the agent)."""

    def __init__(
        self,
        models: tuple[str, ...],
        profiles: dict[str, LeagueProfile],
        headroom_quantile: float | None = None,
        loaded: dict[str, LeagueForecaster] | None = None,
    ):
        self.models = models
        self.profiles = profiles
        self.headroom_quantile = headroom_quantile
        self.by_league: dict[str, LeagueForecaster] = dict(loaded or {})

    def of(self, league: str) -> LeagueForecaster:
        if league not in self.by_league:
            quantile = self.headroom_quantile
            if quantile is None:
                quantile = scaling_sensitivity(self.profiles, league)
            self.by_league[league] = LeagueForecaster(models=self.models, headroom_quantile=quantile)
        return self.by_league[league]


class ScalingStep:
    """See the module docstring."""

    tables = ("scaling", "scaling-flags")
    # the batch's league states (the policy's form; the table gets records at the end) and last forecasts
    scratch = ("scaling-live", "forecasts")

    def __init__(
        self,
        config: PolicyConfig,
        forecasters: Forecasters,
        bucket_seconds: float,
        clock: Callable[[], float] = time.time,
    ):
        self.config = config
        self.forecasters = forecasters
        self.profiles = forecasters.profiles
        self.bucket = bucket_seconds
        self.clock = clock
        self.forecast_only_config = dataclasses.replace(config, forecast_only=True)

    def apply(self, item: Input, view: TableView) -> Effects:
        name, record, partition = item.schema, item.record, item.partition
        if name == "FeatureFlag":
            validate_flag(record)
            return (("scaling-flags", record["flag_id"], partition, record),), ()
        league = record["league"]
        state = view.get("scaling-live", league)
        if state is None:
            stored = view.get("scaling", league)
            state = from_record(stored) if stored else new_league_state(league, self.config.min_agents)
        writes: list = []
        outputs: list = []
        if name == "SystemMetrics":
            state, intervals = add_metrics(state, record, self.bucket, received_at=self.clock())
            for closed in intervals:
                # other leagues hold what they decided, or more while their workers still run
                others = sum(
                    max(r["agents"], r.get("active_agents", 0))
                    for k, r in view.stored["scaling"].items()
                    if k != league
                )
                state, command, forecast = self.decide(state, closed, others, self.actions_on(view, league))
                writes.append(("forecasts", league, partition, forecast))
                if command is not None:
                    outputs.append(("scaling-commands", command))
                    if command["action"] == EMERGENCY and not command["forecast_only"]:
                        outputs.append(("alerts", emergency_alert(command)))
        elif record.get("cancelled"):
            state = cancel(state, name, record)
        elif name == "ScalingOverride":
            state = add_override(state, record)
        else:
            state = add_league_event(state, record, self.profiles.get(league))
        writes.append(("scaling-live", league, partition, state))
        return writes, outputs

    def actions_on(self, view: TableView, league: str) -> bool:
        """False while ``scaling.actions`` is ``forecast-only`` for ``league`` (its own flag, else the global one)."""
        return flag_value(lambda key: view.get("scaling-flags", key), SCALING_ACTIONS, league) == "on"

    def decide(self, state: dict, closed: dict, others: int, actions_on: bool = True) -> tuple[dict, dict | None, dict]:
        """One closed metrics interval: the forecaster learns it, the policy decides on its forecast (recorded in
        the state's history but not emitted while the league's actions are off)."""
        league = state["league"]
        model = self.forecasters.of(league)
        model.learn_one(closed["t"], closed["workload"])
        horizon = model.step or self.bucket
        target = closed["t"] + horizon
        forecast = model.forecast(horizon)
        state, command = decide(
            state,
            closed["t"],
            closed["workload"],
            forecast,
            self.config if actions_on else self.forecast_only_config,
            headroom=model.headroom(forecast, target),
            cpu_percent=closed["cpu_percent"],
            memory_percent=closed["memory_percent"],
            target_t=target,
            profile=self.profiles.get(league),
            other_agents=others,
            upcoming=lambda: model.forecast(2 * horizon),
            active_agents=closed.get("active_agents"),
        )
        state = {**state, "active_agents": closed.get("active_agents", 0)}
        if not actions_on:
            command = None
        return state, command, forecast_record(league, model, closed["t"], closed["workload"], horizon)

    def finish(self, view: TableView) -> Effects:
        now = self.clock()
        writes, outputs = [], []
        for league, (partition, state) in view.changes["scaling-live"].items():
            forecast_only = self.config.forecast_only or not self.actions_on(view, league)
            record = to_record(state, now, forecast_only)
            writes.append(("scaling", league, partition, record))
            outputs.append(("scaling-state", record))
        outputs += [("load-forecasts", forecast) for _, forecast in view.changes["forecasts"].values()]
        return writes, outputs


def emergency_alert(command: dict[str, Any]) -> dict[str, Any]:
    """The Alert of an emergency cut (one per command: its id is the occurrence)."""
    league = command["league"]
    return event_alert(
        "ScalingEmergencyCut",
        "critical",
        f"{league}: emergency cut from {command['agents_before']} to {command['agents_after']} agents "
        f"({command['reason']})",
        command["decided_at"],
        command["command_id"],
        league=league,
        value=float(command["agents_after"]),
        suggestion="Check the league servers' CPU and memory; the pool stays cut for the emergency cooldown.",
    )
