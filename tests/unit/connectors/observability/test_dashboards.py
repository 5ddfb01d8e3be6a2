"""The Grafana dashboards: valid JSON, a query in every panel, and each metric they query declared by a process."""

from __future__ import annotations

import json

from api.metrics import ApiMetrics
from connectors.observability.dashboards import DASHBOARDS, expressions, family_of, queried_metrics
from connectors.observability.process_metrics import ProcessMetrics


def declared_families() -> set[str]:
    families = set()
    for registry in (ProcessMetrics("unit-dashboards").registry, ApiMetrics().registry):
        families |= {metric.name for metric in registry.collect()}
    return families


def test_the_four_dashboards_parse_and_every_panel_queries_something():
    paths = sorted(p.name for p in DASHBOARDS.glob("*.json"))
    assert paths == ["game_day.json", "health.json", "pipeline.json", "scaling.json"]
    for path in DASHBOARDS.glob("*.json"):
        dashboard = json.loads(path.read_text())
        assert dashboard["uid"].startswith("wirereport-")
        ids = [panel["id"] for panel in dashboard["panels"]]
        assert len(ids) == len(set(ids)), path.name
        assert all(panel["targets"] for panel in dashboard["panels"]), path.name
        assert all("wirereport_" in expr for _, expr in expressions(dashboard)), path.name


def test_every_queried_metric_is_declared_by_a_process_or_the_api():
    queried = queried_metrics()
    assert "wirereport_http_requests" not in queried  # nothing exports it: the API's are wirereport_api_*
    missing = {name: where for name, where in queried.items() if family_of(name) not in declared_families()}
    assert missing == {}


def test_suffixes_are_stripped_to_the_family():
    assert family_of("wirereport_tweets_total") == "wirereport_tweets"
    assert "wirereport_decision_latency_seconds" in queried_metrics()
