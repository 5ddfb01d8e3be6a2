"""Slack-compatible webhook delivery: the message text of a notification and one POST."""

from __future__ import annotations

from typing import Any

import httpx

WHERE_LABELS = (
    "server_id",
    "breaker",
    "account",
    "source_topic",
    "deployment_id",
    "consumer_group",
    "process",
    "league",
)


class WebhookError(Exception):
    """The webhook did not accept the notification (connection error or non-2xx status)."""


def _line(a: dict[str, Any]) -> str:
    labels = a["labels"]
    # the first label that says where (a server, a breaker, an account, a topic, a deployment) or the league
    where = next((labels[k] for k in WHERE_LABELS if labels.get(k)), "")
    text = f"• *{labels.get('severity', '')}* {labels.get('alertname', '')} {where}: {a.get('summary', '')}"
    if a["status"] == "firing" and a.get("suggestion"):
        text += f"\n    _{a['suggestion']}_"
    return text


def slack_text(note: dict[str, Any]) -> str:
    """Alertmanager-like message: a title with counts, one line per alert, suggestions for firing ones."""
    status = f"FIRING:{len(note['firing'])}" if note["firing"] else "RESOLVED"
    head = f"[{status}] {' '.join(note['group_labels'].values())}"
    if note.get("repeat"):
        head += " (still firing)"
    parts = [head]
    parts += [_line(a) for a in note["firing"]]
    if note["resolved"]:
        parts.append(f"Resolved ({len(note['resolved'])}):")
        parts += [_line(a) for a in note["resolved"]]
    return "\n".join(parts)


def slack_payload(note: dict[str, Any]) -> dict[str, Any]:
    return {"text": slack_text(note), "username": "Wire Report", "notification_id": note["notification_id"]}


def post_notification(client: httpx.Client, url: str, note: dict[str, Any]) -> int:
    """POST one notification; raise ``WebhookError`` unless the webhook answers 2xx."""
    try:
        resp = client.post(
            url, json=slack_payload(note), headers={"X-Wirereport-Notification-Id": note["notification_id"]}
        )
    except httpx.HTTPError as exc:
        raise WebhookError(f"{exc.__class__.__name__}: {exc}") from None
    if not 200 <= resp.status_code < 300:
        raise WebhookError(f"webhook answered {resp.status_code}: {resp.text[:200]}")
    return resp.status_code
