"""Bounds of a DeploymentEvent: what no decision can be made of is refused with the reason."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest

from streams.deployments.steps import event_target, metrics_target
from streams.deployments.validation import validate_deployment_event
from streams.exceptions import InvalidRecord

REQUEST = {
    "event_id": "e1",
    "kind": "request",
    "deployment_id": "d1",
    "server_id": "*",
    "league": "NBA",
    "version": "v2",
    "previous_version": None,
    "targets": ["nba-1", "nba-2"],
    "strategy": "canary",
    "force": False,
    "requested_by": "ops",
    "status": None,
    "decision_id": None,
    "detail": None,
    "occurred_at": datetime(2024, 1, 1, tzinfo=UTC),
}


def test_a_request_passes_and_goes_to_the_manager():
    assert event_target("DeploymentEvent", REQUEST) == (b"deployments", 0)
    validate_deployment_event({**REQUEST, "version": None, "strategy": "bogus"})  # the manager rejects those


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"kind": "tick"}, "kind 'tick' is not one of request, rollback, report"),
        ({"deployment_id": ""}, "deployment_id is empty"),
        ({"event_id": "e" * 129}, "event_id of 129 characters is over 128"),
        ({"targets": [f"s{i}" for i in range(1001)]}, "1001 targets is over 1000"),
        ({"targets": ["s" * 200]}, "a target is over 128 characters"),
        ({"detail": "d" * 2001}, "detail of 2001 characters is over 2000"),
        ({"occurred_at": datetime(1, 1, 1, tzinfo=UTC)}, "occurred_at 0001-01-01 00:00:00+00:00 is not a timestamp"),
    ],
)
def test_each_broken_bound_is_named(change, reason):
    with pytest.raises(InvalidRecord, match="invalid deployment event: ") as info:
        event_target("DeploymentEvent", {**REQUEST, **change})
    assert reason in str(info.value)


def test_a_sample_with_a_nan_latency_stays_out_of_the_canary():
    assert metrics_target("SystemMetrics", {"error_rate": None, "latency_ms": math.nan, "version": "v2"}) is None
    assert metrics_target("SystemMetrics", {"error_rate": -1.0, "latency_ms": None}) is None
    assert metrics_target("SystemMetrics", {"error_rate": 0.01, "latency_ms": 3.0}) == (b"deployments", 0)
