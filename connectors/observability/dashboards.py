"""The metric names the Grafana dashboards query (``infra/grafana/dashboards/*.json``), to check each is exported.

A panel's PromQL names series such as ``wirereport_decision_latency_seconds_bucket``; the exported family is
``wirereport_decision_latency_seconds``. :func:`queried_metrics` gives the series names as written and
:func:`family_of` the family a scrape lists them under.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

DASHBOARDS = Path(__file__).resolve().parents[2] / "infra" / "grafana" / "dashboards"

_METRIC = re.compile(r"\bwirereport_[a-z0-9_]+")
_SUFFIX = re.compile(r"_(bucket|sum|count)$")


def expressions(dashboard: dict) -> Iterator[tuple[str, str]]:
    """``(panel title, PromQL)`` of every target of every panel (rows' nested panels too)."""
    for panel in dashboard.get("panels", []):
        for target in panel.get("targets", []):
            if target.get("expr"):
                yield panel.get("title", ""), target["expr"]
        yield from expressions(panel)


def queried_metrics(directory: Path = DASHBOARDS) -> dict[str, set[str]]:
    """``metric -> {"dashboard.json: panel title", ...}`` for every ``wirereport_*`` series a dashboard queries,
    histogram suffixes (``_bucket``, ``_sum``, ``_count``) stripped."""
    found: dict[str, set[str]] = {}
    for path in sorted(directory.glob("*.json")):
        for title, expr in expressions(json.loads(path.read_text())):
            for name in _METRIC.findall(expr):
                found.setdefault(_SUFFIX.sub("", name), set()).add(f"{path.name}: {title}")
    return found


def family_of(name: str) -> str:
    """The family a series name belongs to as prometheus-client's parser reports it (counters lose ``_total``)."""
    return name.removesuffix("_total")
