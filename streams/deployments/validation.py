"""Bounds of a DeploymentEvent (pure): what the manager cannot take, refused before it reaches it.

A request the manager can judge (no version, an unknown strategy, no targets) is not refused here: the manager
rejects it with a decision the requester sees. Refused here is what no decision can be made of: an unknown kind,
an empty id, a timestamp outside 2000..2100 (a year-1 request would look older than any bake time), ids over
128 characters, more than 1,000 targets, a detail over 2,000 characters.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from streams.exceptions import InvalidRecord

EVENT_KINDS = ("request", "rollback", "report")
EARLIEST_INSTANT = datetime(2000, 1, 1, tzinfo=UTC)
LATEST_INSTANT = datetime(2100, 1, 1, tzinfo=UTC)
MAX_ID_CHARS = 128
MAX_TARGETS = 1000
MAX_DETAIL_CHARS = 2000

_REQUIRED_IDS = ("event_id", "deployment_id", "server_id")
_OPTIONAL_IDS = ("version", "previous_version", "strategy", "requested_by", "status", "decision_id")


def validate_deployment_event(event: dict[str, Any]) -> None:
    """Raise ``InvalidRecord`` naming every bound ``event`` breaks (see the module doc)."""
    problems = []
    if event["kind"] not in EVENT_KINDS:
        problems.append(f"kind {event['kind']!r} is not one of {', '.join(EVENT_KINDS)}")
    for field in _REQUIRED_IDS:
        value = event[field]
        if not value:
            problems.append(f"{field} is empty")
        elif len(value) > MAX_ID_CHARS:
            problems.append(f"{field} of {len(value)} characters is over {MAX_ID_CHARS}")
    for field in _OPTIONAL_IDS:
        value = event.get(field)
        if value is not None and len(value) > MAX_ID_CHARS:
            problems.append(f"{field} of {len(value)} characters is over {MAX_ID_CHARS}")
    targets = event.get("targets") or []
    if len(targets) > MAX_TARGETS:
        problems.append(f"{len(targets)} targets is over {MAX_TARGETS}")
    elif any(len(target) > MAX_ID_CHARS for target in targets):
        problems.append(f"a target is over {MAX_ID_CHARS} characters")
    detail = event.get("detail")
    if detail is not None and len(detail) > MAX_DETAIL_CHARS:
        problems.append(f"detail of {len(detail)} characters is over {MAX_DETAIL_CHARS}")
    occurred_at = event["occurred_at"]
    try:
        at = datetime.fromisoformat(occurred_at.replace("Z", "+00:00")) if isinstance(occurred_at, str) else occurred_at
        at = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
        inside = EARLIEST_INSTANT <= at < LATEST_INSTANT
    except (TypeError, ValueError, AttributeError):
        inside = False
    if not inside:
        problems.append(f"occurred_at {occurred_at} is not a timestamp within 2000-01-01..2100-01-01")
    if problems:
        raise InvalidRecord("invalid deployment event: " + "; ".join(problems))
