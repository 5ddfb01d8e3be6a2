"""Predictive scaling policy (pure): decides each league's agent count from a forecast and the present.

State in, state out: the state is a JSON-able dict (a Faust table keyed by league keeps it); time comes
from the input (``now`` in epoch seconds), never from a clock. Rules, in order of precedence:

1. emergency scale-down by 30% when CPU > 90% or memory > 85%, at most once per cooldown of sample time and
   never below the league's floor while one of its games is live (``_emergency_cut``);
2. a manual override that disables scaling holds the pool (overrides also set min/max, and expire);
3. desired = max(predictive, reactive): forecast x (1 + error-quantile headroom) x event multiplier over
   capacity per agent x target utilization, and never fewer than the last observed workload needs at
   full capacity per agent; pre-scaling to
   ``base_agents x game_day_multiplier`` from 30 minutes before a scheduled game to its end;
4. bounds: profile floor/ceiling (peak hours, season), overrides, ``max_total_agents`` over all leagues;
   no scale-up while CPU >= 80% or memory >= 80% (the memory alert's warning threshold), nor within an
   emergency cut's cooldown (even below the floor);
5. asymmetric cooldowns: up after ``up_cooldown_seconds``, down only after ``down_cooldown_seconds`` and
   only to the highest desired count of the last ``down_cooldown_seconds`` (no flapping).

In forecast-only mode decisions are recorded and emitted with ``forecast_only=True`` and nobody acts.

The policy owns each league's agent count. Self-healing only asks, through a ``LeagueEvent`` load multiplier the
policy weighs like any other; it does not ask while CPU is in the emergency range (there the servers are
overloaded: the emergency cut decides, and more agents would add load).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypedDict

from streams.scaling.league_profiles import LeagueProfile

SCALE_UP = "scale_up"
SCALE_DOWN = "scale_down"
EMERGENCY = "emergency_scale_down"


class ActiveOverride(TypedDict):
    """A ScalingOverride in force (until ``expires_at``)."""

    predictive_enabled: bool  # False holds the pool
    min_agents: int | None
    max_agents: int | None
    reason: str
    expires_at: float  # epoch seconds
    created_at: float


class HistoryEntry(TypedDict):
    """One scaling the policy decided (the newest ``history_size`` are kept)."""

    at: float  # epoch seconds
    before: int
    after: int
    action: str
    reason: str
    command_id: str


class PolicyState(TypedDict):
    """A league's policy state (JSON-able; times in epoch seconds)."""

    league: str
    agents: int  # the pool the policy last decided
    last_scale_at: float | None
    last_emergency_at: float | None
    recent_desired: list[list[float]]  # [at, desired agents] of the last down cooldown, oldest first
    overrides: dict[str, ActiveOverride]  # override_id -> override
    events: list[list[Any]]  # [starts_at, ends_at, multiplier, event_id], sorted
    games: list[list[Any]]  # [scheduled_start, game_id], sorted
    history: list[HistoryEntry]


class ScalingCommand(TypedDict):
    """The ``ScalingCommand`` record of a decision."""

    command_id: str  # deterministic: league, decision time, change
    league: str
    agents_before: int
    agents_after: int
    action: str  # scale_up, scale_down or emergency_scale_down
    reason: str
    forecast: float | None
    forecast_only: bool
    decided_at: datetime


@dataclass(frozen=True)
class PolicyConfig:
    """Knobs of the policy (settings fill them in the agent; CLI flags in the backtest)."""

    capacity_per_agent: float = 1.0
    target_utilization: float = 0.7
    min_agents: int = 1
    max_agents: int = 150
    max_total_agents: int = 150
    max_cpu_percent: float = 80.0
    max_memory_percent: float = 80.0  # the HighMemory warning threshold: one notion of "memory tight"
    emergency_cpu_percent: float = 90.0
    emergency_memory_percent: float = 85.0
    emergency_cut: float = 0.3
    emergency_cooldown_seconds: float = 120.0
    up_cooldown_seconds: float = 60.0
    down_cooldown_seconds: float = 300.0
    prescale_seconds: float = 1800.0
    forecast_only: bool = False
    history_size: int = 50
    # False: commands are bare ``{"action", "agents_after"}`` (no id, reason or history): for backtests
    emit_commands: bool = True

    @classmethod
    def from_settings(cls, settings, **changes: Any) -> PolicyConfig:
        """The policy knobs from the settings object (``scaling_*`` fields), with ``changes`` applied."""
        fields = {
            "capacity_per_agent": settings.scaling_capacity_per_agent,
            "target_utilization": settings.scaling_target_utilization,
            "min_agents": settings.scaling_min_agents,
            "max_agents": settings.scaling_max_agents,
            "max_total_agents": settings.scaling_max_total_agents,
            "max_cpu_percent": settings.scaling_max_cpu_percent,
            "max_memory_percent": scale_up_memory_limit(settings),
            "emergency_cpu_percent": settings.scaling_emergency_cpu_percent,
            "emergency_memory_percent": settings.scaling_emergency_memory_percent,
            "emergency_cut": settings.scaling_emergency_cut,
            "emergency_cooldown_seconds": settings.scaling_emergency_cooldown_seconds,
            "up_cooldown_seconds": settings.scaling_up_cooldown_seconds,
            "down_cooldown_seconds": settings.scaling_down_cooldown_seconds,
            "prescale_seconds": settings.scaling_prescale_seconds,
            "forecast_only": settings.scaling_forecast_only,
        }
        fields.update({k: v for k, v in changes.items() if v is not None})
        return cls(**fields)

    def __post_init__(self) -> None:
        if self.capacity_per_agent <= 0:
            raise ValueError("capacity per agent must be positive")
        if not 0 < self.target_utilization <= 1:
            raise ValueError("target utilization must be in (0, 1]")
        if self.min_agents < 0 or self.max_agents < max(self.min_agents, 1):
            raise ValueError("need 0 <= min agents <= max agents and max agents >= 1")
        for name in ("up_cooldown_seconds", "down_cooldown_seconds", "emergency_cooldown_seconds", "prescale_seconds"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name.replace('_', ' ')} must not be negative")


def scale_up_memory_limit(settings) -> float:
    """The memory percent at and above which no scale-up happens: ``scaling_max_memory_percent`` if set, else the
    HighMemory warning threshold ``health_memory_warning`` (the source of truth: the policy and the alerts agree)."""
    limit = getattr(settings, "scaling_max_memory_percent", None)
    return settings.health_memory_warning if limit is None else limit


def new_state(league: str, agents: int) -> PolicyState:
    """The state of a league before any decision."""
    return {
        "league": league,
        "agents": int(agents),
        "last_scale_at": None,
        "last_emergency_at": None,
        "recent_desired": [],
        "overrides": {},
        "events": [],
        "games": [],
        "history": [],
    }


def _epoch(value: Any) -> float:
    return value.timestamp() if isinstance(value, datetime) else float(value)


def add_override(state: PolicyState, override: dict[str, Any]) -> PolicyState:
    """Record a ScalingOverride (replaces one with the same id); it applies until ``expires_at``."""
    overrides = dict(state["overrides"])
    overrides[override["override_id"]] = {
        "predictive_enabled": bool(override.get("predictive_enabled", True)),
        "min_agents": override.get("min_agents"),
        "max_agents": override.get("max_agents"),
        "reason": override.get("reason", ""),
        "expires_at": _epoch(override["expires_at"]),
        "created_at": _epoch(override.get("created_at", 0.0)),
    }
    return {**state, "overrides": overrides}


def add_league_event(state: PolicyState, event: dict[str, Any], profile: LeagueProfile | None = None) -> PolicyState:
    """Record a LeagueEvent (multiplier for its duration) or a ScheduledGame (pre-scaling).

    A LeagueEvent without a multiplier takes the league profile's breaking-news multiplier (1 without a profile).
    """
    if "scheduled_start" in event:
        games = [g for g in state["games"] if g[1] != event["game_id"]]
        games.append([_epoch(event["scheduled_start"]), event["game_id"]])
        return {**state, "games": sorted(games)}
    start = _epoch(event["starts_at"])
    multiplier = event.get("multiplier")
    if multiplier is None:
        multiplier = profile.breaking_news_multiplier if profile is not None else 1.0
    events = [e for e in state["events"] if e[3] != event["event_id"]]
    events.append([start, start + int(event["duration_seconds"]), float(multiplier), event["event_id"]])
    return {**state, "events": sorted(events)}


def command_id(league: str, at: float, before: int, after: int, action: str) -> str:
    """Deterministic id of a decision: the same cause (league, sample time, change) gives the same id."""
    return hashlib.sha256(f"{league}|{round(at * 1000)}|{before}|{after}|{action}".encode()).hexdigest()[:32]


def decide(
    state: PolicyState,
    now: float,
    workload: float,
    forecast: float | None,
    config: PolicyConfig,
    *,
    headroom: float = 0.0,
    cpu_percent: float = 0.0,
    memory_percent: float = 0.0,
    target_t: float | None = None,
    profile: LeagueProfile | None = None,
    other_agents: int = 0,
    upcoming: float | Callable[[], float | None] | None = None,
    active_agents: int | None = None,
) -> tuple[PolicyState, ScalingCommand | dict[str, Any] | None]:
    """One decision at ``now`` for the interval ending at ``target_t``; returns (new state, command or None).

    ``upcoming`` is the forecast for the interval after that one (or a function computing it, called only
    when a scale-down is considered): a scale-down never goes below what it needs (no agents are removed
    that the next interval would add back: no flapping). ``active_agents`` is the number of workers the
    servers report running (None or 0: unknown); an emergency cuts what really runs (see ``_emergency_cut``).
    """
    agents = state["agents"]
    target_t = now if target_t is None else target_t
    if state["overrides"] or state["events"] or state["games"]:
        state = _expire(state, now)

    if cpu_percent > config.emergency_cpu_percent or memory_percent > config.emergency_memory_percent:
        after = _emergency_cut(state, now, config, profile, active_agents)
        if after is None:
            return state, None  # no scale-up either: the emergency holds the pool
        reason = f"emergency: cpu {cpu_percent:.0f}% memory {memory_percent:.0f}%"
        state = {**state, "last_emergency_at": now}
        return _act(state, now, after, EMERGENCY, reason, forecast, config)

    overrides = state["overrides"].values()
    if overrides and any(not o["predictive_enabled"] for o in overrides):
        return state, None

    capacity = config.capacity_per_agent * config.target_utilization
    multiplier, why = _event_multiplier(state, target_t) if state["events"] else (1.0, "forecast")
    predicted = 0.0 if forecast is None else forecast * (1.0 + headroom) * multiplier
    desired = math.ceil(predicted / capacity - 1e-9)
    needed = math.ceil(workload / config.capacity_per_agent - 1e-9)
    if needed > desired:
        desired = needed
    game_reason = None
    if profile is not None:
        game = _game_in_window(state, target_t, config.prescale_seconds, profile.game_duration_seconds)
        if game is not None:
            game_agents = math.ceil(profile.base_agents * profile.game_day_multiplier)
            if game_agents > desired:
                desired, game_reason = game_agents, f"game {game}: pre-scaling x{profile.game_day_multiplier:g}"

    floor, ceiling = config.min_agents, config.max_agents
    if profile is not None:
        floor, ceiling = max(floor, profile.floor_agents(target_t)), min(ceiling, profile.ceiling_agents(target_t))
    if overrides:
        for o in overrides:
            if o["min_agents"] is not None:
                floor = max(floor, o["min_agents"])
            if o["max_agents"] is not None:
                ceiling = min(ceiling, o["max_agents"])
    total_room = config.max_total_agents - other_agents
    if total_room < ceiling:
        ceiling = total_room if total_room > 0 else 0
    unbounded = desired
    bounded = floor if desired < floor else desired
    if bounded > ceiling:
        bounded = ceiling

    desired = bounded

    if desired > agents:
        resources_tight = cpu_percent >= config.max_cpu_percent or memory_percent >= config.max_memory_percent
        emergency = state["last_emergency_at"]
        if (resources_tight and agents >= floor) or (
            emergency is not None and now - emergency < config.emergency_cooldown_seconds
        ):  # an emergency cut holds for its cooldown, even below the floor: adding workers back would undo it
            return _remember(state, now, agents, config), None

    # recent = _recent(state, now, desired, config), inlined (hot path)
    horizon = now - config.down_cooldown_seconds
    recent = state["recent_desired"]
    recent = [d for d in recent if d[0] > horizon] if recent and recent[0][0] <= horizon else list(recent)
    recent.append([now, desired])
    last = state["last_scale_at"]
    if desired > agents:
        if agents < floor or last is None or now - last >= config.up_cooldown_seconds:
            reason = partial(
                _reason, game_reason, predicted, workload, why, config, bounded, unbounded, floor, ceiling, overrides
            )
            return _act(state, now, desired, SCALE_UP, reason, forecast, config, recent)
    elif desired < agents:
        if agents > ceiling:  # an override or a limit lowered the ceiling: obey at once
            reason = partial(
                _reason, game_reason, predicted, workload, why, config, bounded, unbounded, floor, ceiling, overrides
            )
            return _act(state, now, ceiling, SCALE_DOWN, reason, forecast, config, recent)
        if last is None or now - last >= config.down_cooldown_seconds:
            stable = max([n for _, n in recent])
            if upcoming is not None and stable < agents:
                expected = upcoming() if callable(upcoming) else upcoming
                if expected is not None:
                    ahead = math.ceil(expected * multiplier / capacity - 1e-9)  # the point forecast: no headroom
                    stable = max(stable, min(ahead, ceiling))
            if stable < agents:
                reason = partial(
                    _reason,
                    game_reason,
                    predicted,
                    workload,
                    why,
                    config,
                    bounded,
                    unbounded,
                    floor,
                    ceiling,
                    overrides,
                )
                return _act(state, now, stable, SCALE_DOWN, partial(_stable, reason), forecast, config, recent)
    return {**state, "recent_desired": recent}, None


def _emergency_cut(
    state: PolicyState, now: float, config: PolicyConfig, profile: LeagueProfile | None, running: int | None
) -> int | None:
    """The pool an emergency cuts to at ``now``, or None to hold (no cut).

    At most one cut per ``emergency_cooldown_seconds`` of the samples' own time (``now``, not a count of decisions),
    never a second on the same or an earlier interval. The cut is of the workers the servers report running; of
    the count the policy last decided when they report none, or more than it (they have not carried it out yet).
    If that last decision was itself a cut, the CPU and memory seen are still those of the larger pool: wait for
    it to show instead of cutting again (no compounding on stale numbers); with no worker count reported at all,
    one cut holds until a normal decision follows. Never below the league's floor while one of its games is live.
    """
    agents = state["agents"]
    last = state["last_emergency_at"]
    if last is not None and (now <= last or now - last < config.emergency_cooldown_seconds):
        return None
    last_was_cut = last is not None and last == state["last_scale_at"]
    if not running and last_was_cut:
        # No worker count reported: what the last cut did cannot be seen, so another cut would only compound it.
        # Hold until a normal decision follows (the overload cleared, or the forecast moved the pool).
        return None
    if running and running > agents:
        if last_was_cut:
            return None  # the last cut is still under way
        running = agents  # the servers have not yet carried out the policy's last decision: cut from it
    base = running or agents
    after = max(1, int(base * (1.0 - config.emergency_cut)))
    if _game_live(state, now, profile):
        after = max(after, live_game_floor(config, profile, now))
    return after if after < base else None


def live_game_floor(config: PolicyConfig, profile: LeagueProfile | None, t: float) -> int:
    """The fewest agents a league keeps while one of its games is live: its profile's floor, at least ``min_agents``."""
    return max(config.min_agents, profile.floor_agents(t) if profile is not None else 1)


def _game_live(state: PolicyState, t: float, profile: LeagueProfile | None) -> bool:
    """Whether a game of the league (a ``ScheduledGame`` the policy received) is being played at ``t``."""
    if not state["games"]:
        return False
    duration = (profile or LeagueProfile(state["league"])).game_duration_seconds
    return _game_in_window(state, t, 0.0, duration) is not None


def _reason(
    game_reason: str | None,
    predicted: float,
    workload: float,
    why: str,
    config: PolicyConfig,
    bounded: int,
    unbounded: int,
    floor: int,
    ceiling: int,
    overrides=(),
) -> str:
    """Why ``decide`` acts (formatted only when a command is emitted: backtests never format it)."""
    if game_reason:
        text = game_reason
    elif predicted >= workload * config.target_utilization:
        text = f"forecast {predicted:.4g}" + ("" if why == "forecast" else f" ({why})")
    else:
        text = f"observed load {workload:.4g}"
    if bounded == unbounded:
        return text
    limits = [o["reason"] for o in overrides if o["min_agents"] == floor or o["max_agents"] == ceiling]
    return f"{text}; bounded to [{floor}, {ceiling}]" + (f" by override: {'; '.join(limits)}" if limits else "")


def _stable(reason: Callable[[], str]) -> str:
    return f"{reason()}; stable for the cooldown"


def _expire(state: PolicyState, now: float) -> PolicyState:
    changed = {}
    if state["overrides"] and any(o["expires_at"] <= now for o in state["overrides"].values()):
        changed["overrides"] = {k: o for k, o in state["overrides"].items() if o["expires_at"] > now}
    if state["events"] and state["events"][0][1] <= now:
        changed["events"] = [e for e in state["events"] if e[1] > now]
    if state["games"] and state["games"][0][0] + 86400 <= now:
        changed["games"] = [g for g in state["games"] if g[0] + 86400 > now]
    return {**state, **changed} if changed else state


def _event_multiplier(state: PolicyState, t: float) -> tuple[float, str]:
    best, why = 1.0, "forecast"
    for start, end, multiplier, event_id in state["events"]:
        if start <= t < end and multiplier > best:
            best, why = multiplier, f"event {event_id} x{multiplier:g}"
    return best, why


def _game_in_window(state: PolicyState, t: float, before: float, duration: float) -> str | None:
    for start, game_id in state["games"]:
        if start - before <= t < start + duration:
            return game_id
    return None


def _recent(state: PolicyState, now: float, desired: int, config: PolicyConfig) -> list:
    """The desired counts of the last ``down_cooldown_seconds``, with ``desired`` at ``now`` (a new list)."""
    horizon = now - config.down_cooldown_seconds
    recent = state["recent_desired"]
    recent = [d for d in recent if d[0] > horizon] if recent and recent[0][0] <= horizon else list(recent)
    recent.append([now, desired])
    return recent


def _remember(state: PolicyState, now: float, desired: int, config: PolicyConfig) -> PolicyState:
    return {**state, "recent_desired": _recent(state, now, desired, config)}


def _act(
    state: PolicyState,
    now: float,
    after: int,
    action: str,
    reason: str | Callable[[], str],
    forecast: float | None,
    config: PolicyConfig,
    recent: list | None = None,
) -> tuple[PolicyState, ScalingCommand | dict[str, Any]]:
    """The state after acting (with ``recent`` as its recent desired counts, if given) and the command."""
    if not config.emit_commands:
        state = {**state, "agents": after, "last_scale_at": now}
        if recent is not None:
            state["recent_desired"] = recent
        return state, {"action": action, "agents_after": after}
    if callable(reason):
        reason = reason()
    before = state["agents"]
    league = state["league"]
    cid = command_id(league, now, before, after, action)
    entry = {"at": now, "before": before, "after": after, "action": action, "reason": reason, "command_id": cid}
    history = [*state["history"][-(config.history_size - 1) :], entry] if config.history_size else []
    state = {**state, "agents": after, "last_scale_at": now, "history": history}
    if recent is not None:
        state["recent_desired"] = recent
    command: ScalingCommand = {
        "command_id": cid,
        "league": league,
        "agents_before": before,
        "agents_after": after,
        "action": action,
        "reason": reason,
        "forecast": forecast,
        "forecast_only": config.forecast_only,
        "decided_at": datetime.fromtimestamp(now, UTC),
    }
    return state, command
