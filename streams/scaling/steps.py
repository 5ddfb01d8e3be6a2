"""The scaling agent's step: a league's metrics, games, events and overrides -> forecasts -> policy.

Inputs come from ``scaling-feed`` (:func:`feed_target` re-keys ``system-metrics``, ``league-events`` and
``scaling-overrides`` into it by league; its one partition holds every league, so one worker decides for all
and the ``max_total_agents`` limit counts every league's pool). Per league the ``scaling`` table holds the
ScalingState record (policy state + the open metrics interval). The online forecasters are a cache of this
worker (:class:`Forecasters`; the agent snapshots them to disk and refits them in another process). Outputs:
``scaling-commands``, and once per batch ``scaling-state`` and ``load-forecasts`` per changed league.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from streams.runtime.steps import Effects, Input, TableView
from streams.scaling.forecasting.ensemble import LeagueForecaster
from streams.scaling.forecasting.records import forecast_record
from streams.scaling.league_profiles import LeagueProfile, scaling_sensitivity
from streams.scaling.policy import PolicyConfig, add_league_event, add_override, decide, validate_scaling_input
from streams.scaling.state import add_metrics, from_record, new_league_state, to_record
from streams.topics import topic

FEED = topic("scaling-feed")


def feed_target(schema: str, record: dict[str, Any]) -> tuple[bytes, int | None]:
    """Where an input goes on ``scaling-feed`` (its league's key and partition); ``InvalidRecord`` if it is bad."""
    validate_scaling_input(schema, record)
    league = record["league"]
    return league.encode(), FEED.partition_of({"league": league})


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

    tables = ("scaling",)
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

    def apply(self, item: Input, view: TableView) -> Effects:
        name, record, partition = item.schema, item.record, item.partition
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
                state, command, forecast = self.decide(state, closed, others)
                writes.append(("forecasts", league, partition, forecast))
                if command is not None:
                    outputs.append(("scaling-commands", command))
        elif name == "ScalingOverride":
            state = add_override(state, record)
        else:
            state = add_league_event(state, record, self.profiles.get(league))
        writes.append(("scaling-live", league, partition, state))
        return writes, outputs

    def decide(self, state: dict, closed: dict, others: int) -> tuple[dict, dict | None, dict]:
        """One closed metrics interval: the forecaster learns it, the policy decides on its forecast."""
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
            self.config,
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
        return state, command, forecast_record(league, model, closed["t"], closed["workload"], horizon)

    def finish(self, view: TableView) -> Effects:
        now = self.clock()
        writes, outputs = [], []
        for league, (partition, state) in view.changes["scaling-live"].items():
            record = to_record(state, now, self.config.forecast_only)
            writes.append(("scaling", league, partition, record))
            outputs.append(("scaling-state", record))
        outputs += [("load-forecasts", forecast) for _, forecast in view.changes["forecasts"].values()]
        return writes, outputs
