"""The alert router: consumes ``alerts`` (and ``silences``), groups/inhibits/silences them with Alertmanager's
semantics (``streams.alert_grouping``), and delivers notifications to a Slack-compatible webhook through a
durable SQLite outbox, with retries, backoff and a circuit breaker."""

from connectors.alert_router.outbox import Outbox
from connectors.alert_router.router import AlertRouter

__all__ = ["AlertRouter", "Outbox"]
