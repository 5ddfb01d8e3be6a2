"""The alert router: consumes ``alerts`` (and ``silences``), groups/inhibits/silences them with Alertmanager's
semantics (``streams.health.alert_grouping``), and delivers notifications to a Slack-compatible webhook through a
durable SQLite outbox, with retries, backoff and a circuit breaker."""

from connectors.effectors.alerts.outbox import Outbox
from connectors.effectors.alerts.router import AlertRouter

__all__ = ["AlertRouter", "Outbox"]
