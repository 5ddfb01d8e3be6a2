"""A league's scaling state as the agent keeps it: policy state plus the open metrics interval (pure).

``add_metrics`` sums the workloads of a league's servers per interval (``bucket_seconds``) and returns the
intervals every live server has moved past. ``to_record``/``from_record`` map the state to the
``ScalingState`` Avro record, the form the table keeps (epoch seconds <-> UTC datetimes). The state is JSON as it
is: its open intervals are keyed by their start as text (JSON keeps object keys as text), so a state restored from
JSON decides exactly as the one it was written from.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any, NotRequired, TypedDict

from streams.scaling.policy import PolicyState, new_state

LIVE_INTERVALS = 4  # a server silent for more of its intervals than this no longer holds intervals open
LIVE_FLOOR_SECONDS = 2.0  # ... nor, on the reader's clock, for less than this (batches arrive unevenly)
MAX_OPEN_INTERVALS = 120  # beyond this many open intervals the oldest closes whoever is missing
# A server no longer live is remembered (its last counted sample) for this many intervals past the newest closed
# one: a redelivery comes from offsets not yet committed, far fewer; one forgotten is of a closed interval anyway.
COUNTED_MEMORY_INTERVALS = 120


# An interval's start, epoch seconds, as the text of the float (``repr`` reads back exactly): a JSON object key
IntervalKey = str
# A server's share of an open interval: (workload sum, sample count, worst cpu, worst memory, active agents, host)
ServerBucket = tuple[float, int, float, float, int, str | None]
# [start of its newest interval, its reporting interval, when its last sample was received (reader's clock, -inf
# offline), the mean time between its samples' arrivals]
ServerSeen = list[float]


class ScalingState(PolicyState):
    """A league's state in the scaling agent: the policy state plus the open metrics intervals (epoch seconds).

    The ``scaling`` table keeps it as a ``ScalingState`` record (``to_record`` / ``from_record``). Only ``add_metrics``
    needs the interval keys: a bare policy state lacks them (read with defaults).
    """

    active_agents: NotRequired[int]  # workers the servers last reported running
    open_buckets: NotRequired[dict[IntervalKey, dict[str, ServerBucket]]]  # interval start -> server_id -> its share
    server_last: NotRequired[dict[str, ServerSeen]]  # the live servers
    closed_through: NotRequired[float | None]  # start of the newest closed interval
    late_samples: NotRequired[int]  # samples of intervals already closed
    # server_id -> observed_at of its newest counted sample: a server's samples arrive in order, so one of it
    # observed at or before that is a redelivery
    last_counted: NotRequired[dict[str, float]]


class ClosedInterval(TypedDict):
    """An interval every live server has moved past: what the policy decides on."""

    t: float  # its start
    workload: float  # sum over servers of each server's mean workload
    cpu_percent: float  # the worst server's
    memory_percent: float
    servers: int
    active_agents: int  # worker processes running, counted once per host


def new_league_state(league: str, agents: int) -> ScalingState:
    return {
        **new_state(league, agents),
        "active_agents": 0,
        "open_buckets": {},
        "server_last": {},
        "closed_through": None,
        "late_samples": 0,
        "last_counted": {},
    }


def _epoch(value: Any) -> float:
    return value.timestamp() if isinstance(value, datetime) else float(value)


def interval_key(start: float) -> IntervalKey:
    return repr(float(start))


def _by_start(buckets: dict[IntervalKey, Any]) -> list[IntervalKey]:
    return sorted(buckets, key=float)


def add_metrics(
    state: ScalingState,
    sample: dict[str, Any],
    bucket_seconds: float,
    received_at: float | None = None,
    live_intervals: int = LIVE_INTERVALS,
) -> tuple[ScalingState, list[ClosedInterval]]:
    """Fold a SystemMetrics sample into its interval; return (state, the intervals it closed, oldest first).

    An interval closes once every live server has sent a sample of a later one, so a server draining its
    backlog after an outage still counts in the intervals it buffered. With ``received_at`` (the reader's
    clock, given by the caller) a server is live while it was last heard from at most ``live_intervals`` of
    its own arrival gaps ago (at least ``LIVE_FLOOR_SECONDS``): live traffic and fast replays alike. Without
    it (offline), while its newest interval is at most ``live_intervals`` of its reporting intervals behind
    the newest of any server. A silent server stops holding intervals open after that; at most
    ``MAX_OPEN_INTERVALS`` stay open. A sample of a closed interval is counted in ``late_samples`` only.

    A server's samples arrive in order (its outage backlog too), so a sample observed at or before the server's
    last counted one is a redelivery (at-least-once delivery after a worker restart): it changes nothing.

    A closed interval is ``{"t", "workload", "cpu_percent", "memory_percent", "servers", "active_agents"}``:
    the workload is the sum over servers of each server's mean workload in the interval; CPU and memory are
    the worst; ``active_agents`` the worker processes running, as last reported in the interval (counted once
    per host: servers sharing a host see the same processes).
    """
    t = _epoch(sample["observed_at"])
    sid = sample["server_id"]
    counted = state.get("last_counted") or {}
    if sid in counted and t <= counted[sid]:
        return state, []
    counted = {**counted, sid: t}
    start = t - t % bucket_seconds
    closed_through = state.get("closed_through")
    if closed_through is not None and start <= closed_through:
        return {**state, "late_samples": state.get("late_samples", 0) + 1, "last_counted": counted}, []
    buckets = dict(state.get("open_buckets") or {})
    own_interval = interval_key(start)
    servers = buckets.get(own_interval, {})
    entry = servers.get(sid, (0.0, 0, 0.0, 0.0))
    buckets[own_interval] = {
        **servers,
        sid: (
            entry[0] + float(sample["workload"]),
            entry[1] + 1,
            max(entry[2], float(sample["cpu_percent"])),
            max(entry[3], float(sample["memory_percent"])),
            int(sample.get("active_agents") or 0),
            sample.get("host"),
        ),
    }
    last = _heard_from(state.get("server_last") or {}, sid, start, sample, bucket_seconds, received_at)
    if received_at is None:
        newest = max(seen[0] for seen in last.values())
        last = {s: seen for s, seen in last.items() if newest - seen[0] <= live_intervals * seen[1]}
    else:
        last = {
            s: seen
            for s, seen in last.items()
            if received_at - seen[2] <= max(live_intervals * seen[3], LIVE_FLOOR_SECONDS)
        }
    oldest_live = min(seen[0] for seen in last.values())
    closed = []
    for key in _by_start(buckets):
        begin = float(key)
        if begin >= oldest_live and len(buckets) <= MAX_OPEN_INTERVALS:  # a live server is not past it yet
            break
        interval = close_interval(begin, buckets.pop(key))
        if interval is not None:
            closed.append(interval)
        closed_through = begin
    if closed_through is not None:
        remembered_from = closed_through - COUNTED_MEMORY_INTERVALS * bucket_seconds
        counted = {s: at for s, at in counted.items() if s in last or at > remembered_from}
    updated = {**state, "open_buckets": buckets, "server_last": last, "closed_through": closed_through}
    return {**updated, "last_counted": counted}, closed


def _heard_from(
    last: dict[str, ServerSeen],
    sid: str,
    start: float,
    sample: dict[str, Any],
    bucket_seconds: float,
    received_at: float | None,
) -> dict[str, ServerSeen]:
    """``last`` with server ``sid``'s newest interval, reporting interval, arrival time and arrival gap."""
    every = max(bucket_seconds, float(sample.get("interval_seconds") or 0.0))
    previous = last.get(sid)
    if previous is None:
        newest, gap = start, every
    else:
        newest, gap = max(previous[0], start), previous[3]
        if received_at is not None and math.isfinite(previous[2]):  # EWMA of the gaps between arrivals
            gap += 0.2 * (max(received_at - previous[2], 0.0) - gap)
    received = -math.inf if received_at is None else received_at
    return {**last, sid: [newest, every, received, gap]}


def close_interval(start: float, servers: dict[str, ServerBucket]) -> ClosedInterval | None:
    if not servers:
        return None
    per_host: dict[str, int] = {}
    for server_id, entry in servers.items():
        active, host = (entry[4], entry[5]) if len(entry) > 4 else (0, None)
        key = host or f"server:{server_id}"
        per_host[key] = max(per_host.get(key, 0), active)
    return {
        "t": start,
        "workload": sum(entry[0] / entry[1] for entry in servers.values()),
        "cpu_percent": max(entry[2] for entry in servers.values()),
        "memory_percent": max(entry[3] for entry in servers.values()),
        "servers": len(servers),
        "active_agents": sum(per_host.values()),
    }


def _ts(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


def to_record(state: ScalingState, updated_at: float, forecast_only: bool = False) -> dict[str, Any]:
    """The ``ScalingState`` record of a league's state."""
    buckets = state.get("open_buckets") or {}
    return {
        "league": state["league"],
        "agents": int(state["agents"]),
        "active_agents": int(state.get("active_agents", 0)),
        "forecast_only": forecast_only,
        "updated_at": _ts(updated_at),
        "last_scale_at": _ts(state["last_scale_at"]),
        "overrides": [
            {
                "override_id": oid,
                "predictive_enabled": o["predictive_enabled"],
                "min_agents": o["min_agents"],
                "max_agents": o["max_agents"],
                "reason": o["reason"],
                "expires_at": _ts(o["expires_at"]),
            }
            for oid, o in state["overrides"].items()
        ],
        "history": [
            {
                "command_id": h["command_id"],
                "at": _ts(h["at"]),
                "agents_before": h["before"],
                "agents_after": h["after"],
                "action": h["action"],
                "reason": h["reason"],
            }
            for h in state["history"]
        ],
        "last_emergency_at": _ts(state["last_emergency_at"]),
        "recent_desired": [{"at": _ts(at), "agents": n} for at, n in state["recent_desired"]],
        "events": [
            {"event_id": e[3], "starts_at": _ts(e[0]), "ends_at": _ts(e[1]), "multiplier": e[2]}
            for e in state["events"]
        ],
        "games": [{"game_id": g[1], "scheduled_start": _ts(g[0])} for g in state["games"]],
        "bucket_start": _ts(float(_by_start(buckets)[0])) if buckets else None,
        "bucket_servers": [
            {
                "server_id": sid,
                "workload_sum": v[0],
                "count": v[1],
                "cpu_percent": v[2],
                "memory_percent": v[3],
                "active_agents": v[4] if len(v) > 4 else 0,
                "host": v[5] if len(v) > 4 else None,
                "bucket_start": _ts(float(key)),
            }
            for key in _by_start(buckets)
            for sid, v in buckets[key].items()
        ],
        "late_samples": int(state.get("late_samples", 0)),
        "closed_through": _ts(state.get("closed_through")),
        "server_last_seen": [
            {
                "server_id": sid,
                "bucket_start": _ts(at),
                "interval_seconds": every,
                "received_at": _ts(received) if math.isfinite(received) else None,
                "arrival_gap_seconds": gap,
            }
            for sid, (at, every, received, gap) in (state.get("server_last") or {}).items()
        ],
        "server_last_counted": [
            {"server_id": sid, "observed_at": _ts(at)} for sid, at in (state.get("last_counted") or {}).items()
        ],
    }


def _opt(value: datetime | None) -> float | None:
    return None if value is None else value.timestamp()


def from_record(record: dict[str, Any]) -> ScalingState:
    """The state of a ``ScalingState`` record."""
    return {
        "league": record["league"],
        "agents": record["agents"],
        "active_agents": record.get("active_agents", 0),
        "last_scale_at": _opt(record["last_scale_at"]),
        "last_emergency_at": _opt(record["last_emergency_at"]),
        "recent_desired": [[d["at"].timestamp(), d["agents"]] for d in record["recent_desired"]],
        "overrides": {
            o["override_id"]: {
                "predictive_enabled": o["predictive_enabled"],
                "min_agents": o["min_agents"],
                "max_agents": o["max_agents"],
                "reason": o["reason"],
                "expires_at": o["expires_at"].timestamp(),
                "created_at": 0.0,
            }
            for o in record["overrides"]
        },
        "events": [
            [e["starts_at"].timestamp(), e["ends_at"].timestamp(), e["multiplier"], e["event_id"]]
            for e in record["events"]
        ],
        "games": [[g["scheduled_start"].timestamp(), g["game_id"]] for g in record["games"]],
        "history": [
            {
                "at": h["at"].timestamp(),
                "before": h["agents_before"],
                "after": h["agents_after"],
                "action": h["action"],
                "reason": h["reason"],
                "command_id": h["command_id"],
            }
            for h in record["history"]
        ],
        "open_buckets": _open_buckets(record),
        "server_last": {
            s["server_id"]: [
                s["bucket_start"].timestamp(),
                s.get("interval_seconds", 0.0),
                -math.inf if s.get("received_at") is None else s["received_at"].timestamp(),
                s.get("arrival_gap_seconds", s.get("interval_seconds", 0.0)),
            ]
            for s in record.get("server_last_seen", [])
        },
        "closed_through": _closed_through(record),
        "late_samples": record["late_samples"],
        # a record before v3 has none: the samples redelivered right after the upgrade count again, as they did
        "last_counted": {c["server_id"]: c["observed_at"].timestamp() for c in record.get("server_last_counted", [])},
    }


def _closed_through(record: dict[str, Any]) -> float | None:
    """The newest closed interval; a v1 record (one open interval, no such field) had closed all before its own."""
    if record.get("closed_through") is not None:
        return record["closed_through"].timestamp()
    if "server_last_seen" not in record and record["bucket_start"] is not None:
        return record["bucket_start"].timestamp() - 1.0
    return None


def _open_buckets(record: dict[str, Any]) -> dict[IntervalKey, dict[str, ServerBucket]]:
    """The open intervals of a record (a v1 record has one, at ``bucket_start``)."""
    buckets: dict[IntervalKey, dict[str, ServerBucket]] = {}
    for b in record["bucket_servers"]:
        begin = (b.get("bucket_start") or record["bucket_start"]).timestamp()
        buckets.setdefault(interval_key(begin), {})[b["server_id"]] = (
            b["workload_sum"],
            b["count"],
            b["cpu_percent"],
            b["memory_percent"],
            b.get("active_agents", 0),
            b.get("host"),
        )
    return buckets
