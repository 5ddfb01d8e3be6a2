"""Backtest of the scaling policy on a load trace, beside two reference policies (pure, deterministic).

Strictly online: the agents in effect for a sample are decided at the previous sample of its league,
from the forecaster (which has learned only earlier samples) and the last observed workload; the
sample times themselves are the schedule, known in advance. References on the same trace:

- reactive (like Kubernetes' HPA): enough agents for the previous sample's workload (one sample late);
- seasonal-naive: max(reactive, enough agents for the workload at the same time one week earlier).

Scores are time-weighted: a sample stands for the time since the previous one, at most the trace's
median step (an overnight gap counts one step); a league's first sample is not scored (nothing was known).
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from streams.scaling.forecasting.ensemble import DEFAULT_MODELS, LeagueForecaster
from streams.scaling.league_profiles import LeagueProfile
from streams.scaling.policy import PolicyConfig, add_league_event, decide, new_state

WEEK_SECONDS = 7 * 86400.0
REVERSAL_SAMPLES = 3  # a scale-down undone by a scale-up this many samples later or sooner is a reversal
POLICIES = ("predictive", "reactive", "seasonal-naive")


@dataclass
class PolicyScore:
    """Time-weighted quality of one policy on a trace."""

    seconds: float = 0.0
    under_seconds: float = 0.0
    above_target_seconds: float = 0.0
    slack_seconds: float = 0.0
    agent_seconds: float = 0.0
    actions: int = 0
    reversals: int = 0  # scale-downs undone by a scale-up within REVERSAL_SAMPLES samples (flapping)
    last_agents: int | None = None
    samples: int = 0
    last_down: int | None = None

    def add(self, agents: int, workload: float, duration: float, capacity_per_agent: float, target: float) -> None:
        self.add_all([(agents, workload, duration)], capacity_per_agent, target)

    def add_all(self, entries: Iterable[tuple[int, float, float]], capacity_per_agent: float, target: float) -> None:
        """``add`` for each (agents, workload, duration) in order (one loop with local variables: fast)."""
        seconds, under, above, slack, agent_seconds = (
            self.seconds,
            self.under_seconds,
            self.above_target_seconds,
            self.slack_seconds,
            self.agent_seconds,
        )
        actions, last_agents = self.actions, self.last_agents
        reversals, index, last_down = self.reversals, self.samples, self.last_down
        for agents, workload, duration in entries:
            index += 1
            if last_agents is not None and agents != last_agents:
                actions += 1
                if agents < last_agents:
                    last_down = index
                elif last_down is not None and index - last_down <= REVERSAL_SAMPLES:
                    reversals += 1
                    last_down = None
            last_agents = agents
            if duration <= 0:
                continue
            capacity = agents * capacity_per_agent
            seconds += duration
            agent_seconds += agents * duration
            if workload > capacity:
                under += duration
            if workload > capacity * target:
                above += duration
            if capacity > 0:
                free = 1.0 - workload / capacity
                if free > 0.0:
                    slack += free * duration
        self.seconds, self.under_seconds, self.above_target_seconds = seconds, under, above
        self.slack_seconds, self.agent_seconds = slack, agent_seconds
        self.actions, self.last_agents = actions, last_agents
        self.reversals, self.samples, self.last_down = reversals, index, last_down

    def summary(self, days: float) -> dict[str, float]:
        total = self.seconds or 1.0
        return {
            "under_provisioned": self.under_seconds / total,
            "under_provisioned_hours": self.under_seconds / 3600.0,
            "above_target": self.above_target_seconds / total,
            "slack": self.slack_seconds / total,
            "actions_per_day": self.actions / days if days > 0 else float(self.actions),
            "reversals_per_day": self.reversals / days if days > 0 else float(self.reversals),
            "agent_hours": self.agent_seconds / 3600.0,
        }


@dataclass
class _League:
    forecaster: LeagueForecaster
    state: dict
    profile: LeagueProfile | None = None
    last_t: float | None = None
    last_y: float = 0.0
    by_time: dict[int, float] = field(default_factory=dict)


@dataclass
class BacktestResult:
    rows: list[dict[str, Any]]
    scores: dict[str, dict[str, float]]
    samples: int
    days: float
    forecast_accuracy: dict[str, dict]

    def targets(self) -> dict[str, str]:
        """The predictive policy's acceptance targets: under-provisioning at most 1/4 of reactive's, and below seasonal-naive's in both.

        Each is ``met``, ``NOT met``, or ``n/a`` when no policy was ever under-provisioned on the trace.
        A predictive policy that was never under-provisioned meets "below seasonal-naive" even when
        seasonal-naive was not either: no policy can go below zero.
        """
        p, r, s = (self.scores[name] for name in POLICIES)
        under = p["under_provisioned"]
        nobody_under = max(under, r["under_provisioned"], s["under_provisioned"]) == 0

        def status(ok: bool, vacuous: bool = False) -> str:
            return "n/a (no policy under-provisioned)" if vacuous else ("met" if ok else "NOT met")

        return {
            "under-provisioned <= reactive/4": status(under <= r["under_provisioned"] / 4, nobody_under),
            "under-provisioned < seasonal-naive": (
                "met (never under-provisioned)"
                if under == 0 and not nobody_under
                else status(under < s["under_provisioned"], nobody_under)
            ),
            "slack < seasonal-naive": status(p["slack"] < s["slack"]),
        }


def _epoch(value: Any) -> float:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    if isinstance(value, str):
        parsed = datetime.fromisoformat(value)
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()
    return float(value) / 1000.0  # epoch milliseconds, as in Avro


def run_backtest(
    samples: Iterable[dict[str, Any]],
    config: PolicyConfig,
    *,
    models: tuple[str, ...] = DEFAULT_MODELS,
    headroom_quantile: float | Mapping[str, float] = 0.7,
    error_correction: bool = True,
    horizons: tuple[float, ...] = (),
    lookahead: bool = True,
    keep_rows: bool = True,
    profiles: Mapping[str, LeagueProfile] | None = None,
    events: Iterable[dict[str, Any]] = (),
) -> BacktestResult:
    """Run the policy over ``samples`` (``league``, ``observed_at``, ``workload``) in input order.

    A sample may carry ``t`` (epoch seconds) to spare parsing ``observed_at``. ``headroom_quantile`` is one
    quantile for every league, or one per league (the default profile's for a league it does not name). With ``profiles`` each
    league's profile bounds its decisions as in the worker (floors, ceilings, peak hours, season, pre-scaling).
    ``events`` (ScheduledGame and LeagueEvent records) are known in advance, as a published schedule is.
    """
    known: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        known.setdefault(event["league"], []).append(event)
    if config.history_size or config.emit_commands:  # only agent counts are read here: no ids, reasons, history
        config = dataclasses.replace(config, history_size=0, emit_commands=False)
    leagues: dict[str, _League] = {}
    rows: list[dict[str, Any]] = []
    scores = {name: PolicyScore() for name in POLICIES}
    cap = config.capacity_per_agent
    cap_target = cap * config.target_utilization
    lo, hi = config.min_agents, config.max_agents
    pending: list[tuple[str, float, float, int, int, int]] = []
    steps: list[float] = []
    count = 0
    first_t = last_t = None
    for sample in samples:
        league_name = sample["league"]
        t = sample["t"] if "t" in sample else _epoch(sample["observed_at"])
        y = float(sample["workload"])
        league = leagues.get(league_name)
        if league is None:
            league = leagues[league_name] = _League(
                LeagueForecaster(
                    models=models,
                    headroom_quantile=headroom_quantile
                    if isinstance(headroom_quantile, float | int)
                    else headroom_quantile.get(league_name, LeagueProfile(league_name).scaling_sensitivity),
                    accuracy_horizons=horizons,
                    error_correction=error_correction,
                ),
                new_state(league_name, lo),
                profiles.get(league_name) if profiles else None,
            )
            for event in known.get(league_name, ()):
                league.state = add_league_event(league.state, event, league.profile)
        forecast = None
        action = None
        previous_t = league.last_t
        forecaster = league.forecaster
        if previous_t is None:
            reactive = lo
            seasonal = lo
            gap = 0.0
        else:
            if t <= previous_t:
                raise ValueError(f"{league_name} sample at {sample['observed_at']} is not after the previous one")
            gap = t - previous_t
            if len(steps) < 1000:
                steps.append(gap)
            forecast = forecaster.forecast_at(t)
            last_y = league.last_y
            league.state, command = decide(
                league.state,
                previous_t,
                last_y,
                forecast,
                config,
                headroom=forecaster.headroom(forecast, t),
                target_t=t,
                profile=league.profile,
                upcoming=(lambda f=forecaster, at=t + (forecaster.step or gap): f.forecast_once_at(at))
                if lookahead
                else None,
            )
            if command is not None:
                action = "scale_down" if command["action"] != "scale_up" else "scale_up"
            # min(max(ceil(load / capacity), lo), hi), with conditionals (hot path)
            reactive = math.ceil(last_y / cap_target - 1e-9)
            if reactive < lo:
                reactive = lo
            if reactive > hi:
                reactive = hi
            week_ago = league.by_time.get(round((t - WEEK_SECONDS) / 60.0))
            seasonal = reactive
            if week_ago is not None:
                weekly = math.ceil(week_ago / cap_target - 1e-9)
                if weekly < lo:
                    weekly = lo
                if weekly > hi:
                    weekly = hi
                if weekly > reactive:
                    seasonal = weekly
        agents = league.state["agents"]
        if keep_rows:
            rows.append(
                {
                    "league": league_name,
                    "observed_at": sample["observed_at"],
                    "agents": agents,
                    "forecast": forecast,
                    "action": action,
                }
            )
        pending.append((league_name, y, gap, agents, reactive, seasonal))
        forecaster.learn_one(t, y)
        league.by_time[round(t / 60.0)] = y
        league.last_t, league.last_y = t, y
        count += 1
        if first_t is None:
            first_t = last_t = t
        elif t < first_t:
            first_t = t
        elif t > last_t:
            last_t = t
    step = statistics.median(steps) if steps else 300.0
    days = ((last_t - first_t) / 86400.0) if count else 0.0
    target = config.target_utilization
    # a league's first sample is not scored: nothing was known before it (every policy starts at min)
    durations = [0.0 if gap <= 0 else (gap if gap < step else step) for _, _, gap, _, _, _ in pending]
    workloads = [entry[1] for entry in pending]
    for index, name in enumerate(POLICIES, 3):
        agents = [entry[index] for entry in pending]
        scores[name].add_all(zip(agents, workloads, durations, strict=True), cap, target)
    return BacktestResult(
        rows,
        {name: score.summary(days) for name, score in scores.items()},
        count,
        days,
        {name: league.forecaster.accuracy() for name, league in leagues.items()},
    )


def format_table(result: BacktestResult) -> Iterator[str]:
    """The comparison table, one line at a time."""
    yield f"{result.samples} samples over {result.days:.1f} days"
    yield (
        f"{'policy':<16}{'under-provisioned':>19}{'above target':>14}{'slack':>8}{'actions/day':>13}"
        f"{'reversals/day':>15}{'agent-hours':>13}"
    )
    for name in POLICIES:
        s = result.scores[name]
        yield (
            f"{name:<16}{s['under_provisioned']:>18.3%} {s['above_target']:>13.2%}{s['slack']:>8.1%}"
            f"{s['actions_per_day']:>13.1f}{s['reversals_per_day']:>15.1f}{s['agent_hours']:>13.0f}"
        )
    for target, status in result.targets().items():
        yield f"target {target}: {status}"
