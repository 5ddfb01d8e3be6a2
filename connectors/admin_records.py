"""The records of operator actions, built the same way by the API and the CLI: cancellations, feature flags and
their audit entries.

A cancellation is the cancelled object's record again (same id, same topic, same key) with ``cancelled: true``:
the scaling step drops the override or event, the alert router drops the silence, and the compacted views
(``silences``) keep the cancelled record in place of the original. Every id here is deterministic, so a retried
action produces the same records and is deduplicated downstream.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from streams.runtime.feature_flags import flag_id

# kind -> (topic, schema, id field)
CANCELLABLE = {
    "override": ("scaling-overrides", "ScalingOverride", "override_id"),
    "event": ("league-events", "LeagueEvent", "event_id"),
    "silence": ("silences", "Silence", "silence_id"),
}


def _millis(t: datetime) -> datetime:
    """Avro keeps milliseconds: the record answered is the record Kafka holds."""
    return t.replace(microsecond=t.microsecond // 1000 * 1000)


def audit_id(action: str, target: str, actor: str, basis: dict[str, Any]) -> str:
    digest = hashlib.sha256(
        f"{action}|{target}|{actor}|{json.dumps(basis, sort_keys=True, default=str)}".encode()
    ).hexdigest()[:24]
    return f"audit-{digest}"


def audit_entry(
    action: str,
    target: str,
    league: str | None,
    actor: str,
    reason: str,
    now: datetime,
    details: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An AuditEntry record; the same action, target, actor, reason and details give the same ``audit_id``."""
    details = {k: str(v) for k, v in (details or {}).items()}
    return {
        "audit_id": audit_id(action, target, actor, {"reason": reason, **details}),
        "action": action,
        "target": target,
        "league": league,
        "actor": actor,
        "reason": reason,
        "at": _millis(now),
        "details": details,
    }


def cancellation(
    kind: str,
    target_id: str,
    actor: str,
    reason: str,
    now: datetime,
    *,
    league: str | None = None,
    original: dict[str, Any] | None = None,
) -> tuple[str, str, dict[str, Any]]:
    """``(topic, schema, record)`` cancelling the ``kind`` (override, event, silence) ``target_id``.

    ``original`` (the record being cancelled, Avro form) keeps its fields in the cancellation; without it the
    record is filled with neutral values (a CLI that only knows the id and the league).
    """
    topic_name, schema, id_field = CANCELLABLE[kind]
    now = _millis(now)
    base = dict(original or {})
    if kind == "override":
        record = {
            "predictive_enabled": True,
            "min_agents": None,
            "max_agents": None,
            "reason": reason,
            "created_at": now,
            **base,
            "league": base.get("league", league),
            "expires_at": now,
            "created_by": actor,
        }
    elif kind == "event":
        record = {
            "kind": "cancelled",
            "multiplier": None,
            "starts_at": now,
            "duration_seconds": 1,
            "description": reason,
            **base,
            "league": base.get("league", league),
        }
    else:
        record = {"matchers": {}, "starts_at": now, **base, "ends_at": now, "comment": reason, "created_by": actor}
    if kind != "silence" and record["league"] is None:
        raise ValueError(f"cancelling {kind} {target_id} needs its league")
    record[id_field] = target_id
    record["cancelled"] = True
    return topic_name, schema, record


def feature_flag(
    name: str, value: bool | str, league: str | None, actor: str, reason: str, now: datetime
) -> dict[str, Any]:
    """A FeatureFlag record (validate it with ``streams.runtime.feature_flags.flag_problem`` first)."""
    return {
        "flag_id": flag_id(name, league),
        "name": name,
        "value": value,
        "league": league,
        "set_by": actor,
        "set_at": _millis(now),
        "reason": reason,
    }
