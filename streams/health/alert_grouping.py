"""Alertmanager's semantics, pure: grouping, group_wait / group_interval / repeat_interval, inhibition, silences.

``AlertGrouper`` keeps a JSON-able ``state`` (the router persists it next to its outbox) and takes the time
as an argument (epoch ms), so it is deterministic and replayable:

- ``ingest_alert(alert, now)``: an Alert transition; duplicates and stale redeliveries are ignored.
- ``ingest_silence(silence)``: a Silence (matchers + starts_at/ends_at); an expired one stops muting.
- ``flush(now)``: the notifications due at ``now``. A new group waits ``group_wait``; afterwards it is
  looked at every ``group_interval`` and notified if its set of firing alerts changed or some of them
  resolved, or re-notified when ``repeat_interval`` passed since the last notification.
- Inhibition: a firing critical mutes the warning of the same server and metric; a firing ``ServerDown``
  mutes every other alert of that server. Silenced or inhibited alerts are not notified.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class GroupingConfig:
    group_by: tuple[str, ...] = ("league", "alertname")
    group_wait: float = 30.0
    group_interval: float = 300.0
    repeat_interval: float = 4 * 3600.0
    send_resolved: bool = True

    @classmethod
    def from_settings(cls, s: Any) -> GroupingConfig:
        return cls(
            group_by=tuple(x.strip() for x in s.alert_group_by.split(",") if x.strip()),
            group_wait=s.alert_group_wait_seconds,
            group_interval=s.alert_group_interval_seconds,
            repeat_interval=s.alert_repeat_interval_seconds,
            send_resolved=s.alert_send_resolved,
        )


def _ms(t: datetime | int | None) -> int | None:
    if t is None or isinstance(t, int):
        return t
    return int(t.timestamp() * 1000)


def alert_labels(alert: dict[str, Any]) -> dict[str, str]:
    """The labels an alert is matched, grouped and inhibited on."""
    labels = {k: str(v) for k, v in (alert.get("labels") or {}).items()}
    for k in ("alertname", "severity", "server_id", "league"):
        if alert.get(k) is not None:
            labels[k] = str(alert[k])
    return labels


def _stored(alert: dict[str, Any]) -> dict[str, Any]:
    return {
        "fingerprint": alert["fingerprint"],
        "status": alert["status"],
        "at": _ms(alert["at"]),
        "starts_at": _ms(alert.get("starts_at")),
        "value": alert.get("value"),
        "threshold": alert.get("threshold"),
        "summary": alert.get("summary", ""),
        "suggestion": alert.get("suggestion", ""),
        "labels": alert_labels(alert),
    }


def _matches(matchers: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in matchers.items())


class AlertGrouper:
    """Grouping state machine; ``state`` is plain JSON data."""

    def __init__(self, config: GroupingConfig | None = None, state: dict[str, Any] | None = None):
        self.config = config or GroupingConfig()
        self.state = state or {"alerts": {}, "groups": {}, "silences": {}, "seen": {}}

    # -- input -----------------------------------------------------------------------------------------
    def group_key(self, labels: dict[str, str]) -> str:
        return "{" + ",".join(f"{k}={labels.get(k, '')}" for k in self.config.group_by) + "}"

    def ingest_alert(self, alert: dict[str, Any], now: int) -> bool:
        """Take an Alert transition; return False if it was a duplicate or older than what is known."""
        rec = _stored(alert)
        fp = rec["fingerprint"]
        seen = self.state["seen"].get(fp)
        if seen is not None and (rec["at"] < seen[0] or (rec["at"] == seen[0] and rec["status"] == seen[1])):
            return False
        self.state["seen"][fp] = [rec["at"], rec["status"]]
        if rec["status"] == "resolved" and fp not in self.state["alerts"]:
            return True  # nothing we know of is firing: nothing to resolve
        key = self.group_key(rec["labels"])
        rec["group"] = key
        self.state["alerts"][fp] = rec
        if key not in self.state["groups"]:
            self.state["groups"][key] = {
                "labels": {k: rec["labels"].get(k, "") for k in self.config.group_by},
                "next_flush": now + int(self.config.group_wait * 1000),
                "last_sent": None,
                "notified": [],
            }
        return True

    def ingest_silence(self, silence: dict[str, Any]) -> None:
        self.state["silences"][silence["silence_id"]] = {
            "matchers": dict(silence["matchers"]),
            "starts_at": _ms(silence["starts_at"]),
            "ends_at": _ms(silence["ends_at"]),
            "comment": silence.get("comment", ""),
        }

    # -- muting ----------------------------------------------------------------------------------------
    def silenced_by(self, labels: dict[str, str], now: int) -> str | None:
        for sid, s in sorted(self.state["silences"].items()):
            if s["starts_at"] <= now < s["ends_at"] and _matches(s["matchers"], labels):
                return sid
        return None

    def inhibited_by(self, rec: dict[str, Any]) -> str | None:
        """The fingerprint of a firing alert that inhibits ``rec``, if any."""
        labels = rec["labels"]
        server = labels.get("server_id")
        if server is None:
            return None
        for fp, src in sorted(self.state["alerts"].items()):
            if fp == rec["fingerprint"] or src["status"] != "firing":
                continue
            sl = src["labels"]
            if sl.get("server_id") != server:
                continue
            if sl.get("alertname") == "ServerDown" and labels.get("alertname") != "ServerDown":
                return fp
            if (
                sl.get("severity") == "critical"
                and labels.get("severity") == "warning"
                and sl.get("metric") is not None
                and sl.get("metric") == labels.get("metric")
            ):
                return fp
        return None

    def muted(self, rec: dict[str, Any], now: int) -> bool:
        return self.silenced_by(rec["labels"], now) is not None or self.inhibited_by(rec) is not None

    # -- output ----------------------------------------------------------------------------------------
    def flush(self, now: int) -> list[dict[str, Any]]:
        """The notifications due at ``now`` (and the state moved on)."""
        out = []
        self._expire_silences(now)
        for key in sorted(self.state["groups"]):
            group = self.state["groups"][key]
            if group["next_flush"] > now:
                continue
            note = self._flush_group(key, group, now)
            if note is not None:
                out.append(note)
        return out

    def _flush_group(self, key: str, group: dict[str, Any], now: int) -> dict[str, Any] | None:
        members = [a for a in self.state["alerts"].values() if a["group"] == key]
        members.sort(key=lambda a: (a["labels"].get("server_id", ""), a["fingerprint"]))
        firing = [a for a in members if a["status"] == "firing" and not self.muted(a, now)]
        notified = set(group["notified"])
        resolved = [a for a in members if a["status"] == "resolved" and a["fingerprint"] in notified]
        firing_fps = [a["fingerprint"] for a in firing]
        changed = set(firing_fps) != notified or bool(resolved)
        repeat_due = (
            bool(firing)
            and group["last_sent"] is not None
            and now - group["last_sent"] >= self.config.repeat_interval * 1000
        )
        if not self.config.send_resolved:
            resolved = []
            changed = set(firing_fps) - notified != set() or (not firing and bool(notified))
        note = None
        if (changed or repeat_due) and (firing or resolved):
            note = self._notification(key, group, firing, resolved, now, repeat=not changed)
            group["last_sent"] = now
        group["notified"] = sorted(firing_fps)
        for a in members:
            if a["status"] == "resolved":
                del self.state["alerts"][a["fingerprint"]]
        if not any(a["group"] == key for a in self.state["alerts"].values()):
            del self.state["groups"][key]
        else:
            group["next_flush"] = now + int(self.config.group_interval * 1000)
        return note

    def _notification(self, key, group, firing, resolved, now, repeat) -> dict[str, Any]:
        content = "|".join([key, str(now)] + [f"{a['fingerprint']}:{a['status']}:{a['at']}" for a in firing + resolved])
        return {
            "notification_id": hashlib.sha256(content.encode()).hexdigest()[:24],
            "group_key": key,
            "group_labels": dict(group["labels"]),
            "status": "firing" if firing else "resolved",
            "created_at": now,
            "repeat": repeat,
            "firing": [dict(a) for a in firing],
            "resolved": [dict(a) for a in resolved],
        }

    def _expire_silences(self, now: int) -> None:
        for sid in [sid for sid, s in self.state["silences"].items() if s["ends_at"] <= now]:
            del self.state["silences"][sid]
