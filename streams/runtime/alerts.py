"""Alert records of one-off events (an emergency cut, a deployment rolled back, a command failed for good).

A health rule's alert fires and later resolves; an event happens once. Its Alert carries the label
``notify=once``: the alert router notifies it once (grouped, silenced like any alert) and then forgets it,
instead of repeating it until it resolves. The fingerprint is deterministic (alert name + the occurrence's
own id, e.g. a command id), so a redelivered input produces the same alert, which the router deduplicates.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

NOTIFY_ONCE = {"notify": "once"}


def event_fingerprint(alertname: str, occurrence: str) -> str:
    return hashlib.sha256(f"{alertname}|{occurrence}".encode()).hexdigest()[:16]


def event_alert(
    alertname: str,
    severity: str,
    summary: str,
    at: datetime,
    occurrence: str,
    *,
    league: str | None = None,
    server_id: str | None = None,
    suggestion: str = "",
    value: float | None = None,
    threshold: float | None = None,
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A firing ``Alert`` record of a one-off event (see the module docstring)."""
    return {
        "fingerprint": event_fingerprint(alertname, occurrence),
        "alertname": alertname,
        "server_id": server_id,
        "league": league,
        "severity": severity,
        "status": "firing",
        "value": value,
        "threshold": threshold,
        "summary": summary,
        "suggestion": suggestion,
        "at": at,
        "starts_at": at,
        "labels": {**(labels or {}), **NOTIFY_ONCE},
    }
