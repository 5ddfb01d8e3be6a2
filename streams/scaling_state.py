"""A league's scaling state as the agent keeps it: policy state plus the open metrics interval (pure).

``add_metrics`` sums the workloads of a league's servers per interval (``bucket_seconds``) and returns the
closed interval when a sample of a later one arrives. ``to_record``/``from_record`` map the JSON-able
state to the ``ScalingState`` Avro record (epoch seconds <-> UTC datetimes).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from streams.scaling_policy import new_state


def new_league_state(league: str, agents: int) -> dict[str, Any]:
    return {
        **new_state(league, agents),
        "active_agents": 0,
        "bucket_start": None,
        "bucket_servers": {},
        "late_samples": 0,
    }


def _epoch(value: Any) -> float:
    return value.timestamp() if isinstance(value, datetime) else float(value)


def add_metrics(state: dict, sample: dict, bucket_seconds: float) -> tuple[dict, dict | None]:
    """Fold a SystemMetrics sample into the open interval; return (state, the interval it closed or None).

    A closed interval is ``{"t", "workload", "cpu_percent", "memory_percent", "servers", "active_agents"}``:
    the workload is the sum over servers of each server's mean workload in the interval; CPU and memory are
    the worst; ``active_agents`` the worker processes running, as last reported in the interval (counted once
    per host: servers sharing a host see the same processes).
    """
    t = _epoch(sample["observed_at"])
    start = t - t % bucket_seconds
    current = state.get("bucket_start")
    if current is not None and start < current:
        return {**state, "late_samples": state.get("late_samples", 0) + 1}, None
    closed = None
    servers = state.get("bucket_servers") or {}
    if current is not None and start > current:
        closed = close_interval(current, servers)
        servers = {}
    entry = servers.get(sample["server_id"], (0.0, 0, 0.0, 0.0))
    servers = {
        **servers,
        sample["server_id"]: (
            entry[0] + float(sample["workload"]),
            entry[1] + 1,
            max(entry[2], float(sample["cpu_percent"])),
            max(entry[3], float(sample["memory_percent"])),
            int(sample.get("active_agents") or 0),
            sample.get("host"),
        ),
    }
    return {**state, "bucket_start": start, "bucket_servers": servers}, closed


def close_interval(start: float, servers: dict) -> dict | None:
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


def to_record(state: dict, updated_at: float, forecast_only: bool = False) -> dict[str, Any]:
    """The ``ScalingState`` record of a league's state."""
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
        "bucket_start": _ts(state.get("bucket_start")),
        "bucket_servers": [
            {
                "server_id": sid,
                "workload_sum": v[0],
                "count": v[1],
                "cpu_percent": v[2],
                "memory_percent": v[3],
                "active_agents": v[4] if len(v) > 4 else 0,
                "host": v[5] if len(v) > 4 else None,
            }
            for sid, v in (state.get("bucket_servers") or {}).items()
        ],
        "late_samples": int(state.get("late_samples", 0)),
    }


def _opt(value: datetime | None) -> float | None:
    return None if value is None else value.timestamp()


def from_record(record: dict[str, Any]) -> dict[str, Any]:
    """The JSON-able state of a ``ScalingState`` record."""
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
        "bucket_start": _opt(record["bucket_start"]),
        "bucket_servers": {
            b["server_id"]: (
                b["workload_sum"],
                b["count"],
                b["cpu_percent"],
                b["memory_percent"],
                b.get("active_agents", 0),
                b.get("host"),
            )
            for b in record["bucket_servers"]
        },
        "late_samples": record["late_samples"],
    }
