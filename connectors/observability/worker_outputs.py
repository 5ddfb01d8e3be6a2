"""Metrics from what the worker's agents decide: the ``observer`` of :class:`streams.runtime.agent_context.AgentContext`.

The agents are pure steps in ``streams/`` (no metrics library there); they hand every batch of outputs to the
context's observer, and this one reads the few topics a dashboard needs:

- ``tweet-commands``: ``wirereport_tweets{outcome="decided"}`` per account;
- ``tweet-budgets``: ``wirereport_tweet_budget_remaining`` per account (limit - used of the account's day);
- ``scaling-commands``: ``wirereport_scaling_decisions`` per league and action (forecast-only ones included);
- ``load-forecasts``: ``wirereport_load_actual`` and ``wirereport_load_forecast`` per league;
- ``scaling-state``: ``wirereport_scaling_agents`` (desired and active) per league;
- ``alerts``: ``wirereport_alerts_firing`` per alert name and severity (alerts known firing, by fingerprint);
- ``server-health``: ``wirereport_server_status`` and ``wirereport_server_resource_percent`` per server;
- ``dead-letters``: ``wirereport_dead_letters`` per source topic and reason class (the agents send their dead
  letters straight to the producer, past Faust's sensors).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from connectors.observability.process_metrics import ProcessMetrics

SERVER_STATUS = {"ok": 0, "warning": 1, "critical": 2, "down": 3}


class WorkerOutputs:
    """Call with a batch's ``(topic, record)`` outputs; records what the dashboards show."""

    def __init__(self, metrics: ProcessMetrics):
        self.metrics = metrics
        self._firing: dict[str, tuple[str, str]] = {}  # fingerprint -> (alertname, severity) of firing alerts
        self._alert_labels: set[tuple[str, str]] = set()
        self._handlers = {
            "tweet-commands": self._tweet,
            "tweet-budgets": self._budget,
            "scaling-commands": self._scaling,
            "load-forecasts": self._forecast,
            "scaling-state": self._scaling_state,
            "alerts": self._alert,
            "server-health": self._server_health,
            "dead-letters": self._dead_letter,
        }

    def __call__(self, outputs: list[tuple[str, dict[str, Any]]]) -> None:
        handlers = self._handlers
        alerts = False
        for name, record in outputs:
            handler = handlers.get(name)
            if handler is not None:
                handler(record)
                alerts = alerts or name == "alerts"
        if alerts:
            self._export_alerts()

    def _dead_letter(self, record: dict[str, Any]) -> None:
        self.metrics.dead_letter(record["source_topic"], record["reason"])

    def _tweet(self, record: dict[str, Any]) -> None:
        self.metrics.tweet(record["account"], "decided")

    def _budget(self, record: dict[str, Any]) -> None:
        self.metrics.budget_left(record["account"], max(record["limit"] - record["used"], 0))

    def _scaling(self, record: dict[str, Any]) -> None:
        self.metrics.scaling_decision(str(record["league"]), record["action"])

    def _forecast(self, record: dict[str, Any]) -> None:
        league = str(record["league"])
        self.metrics.load_actual.labels(league).set(record["workload"])
        if record.get("forecast") is not None:
            self.metrics.load_forecast.labels(league, "expected").set(record["forecast"])
        if record.get("forecast_upper") is not None:
            self.metrics.load_forecast.labels(league, "upper").set(record["forecast_upper"])

    def _scaling_state(self, record: dict[str, Any]) -> None:
        league = str(record["league"])
        self.metrics.scaling_agents.labels(league, "desired").set(record["agents"])
        self.metrics.scaling_agents.labels(league, "active").set(record["active_agents"])

    def _server_health(self, record: dict[str, Any]) -> None:
        server, league = record["server_id"], str(record["league"])
        self.metrics.server_status.labels(server, league).set(SERVER_STATUS.get(record["status"], 3))
        for resource in ("cpu", "memory", "disk"):
            value = record.get(f"{resource}_percent")
            if value is not None:
                self.metrics.server_resource.labels(server, league, resource).set(value)

    def _alert(self, record: dict[str, Any]) -> None:
        if record["status"] == "firing":
            self._firing[record["fingerprint"]] = (record["alertname"], record["severity"])
        else:
            self._firing.pop(record["fingerprint"], None)

    def _export_alerts(self) -> None:
        firing = Counter(self._firing.values())
        for labels in self._alert_labels - firing.keys():
            self.metrics.alerts(*labels, 0)  # resolved: 0, not gone, so the panel shows it resolve
        for (alertname, severity), count in firing.items():
            self.metrics.alerts(alertname, severity, count)
        self._alert_labels |= firing.keys()
