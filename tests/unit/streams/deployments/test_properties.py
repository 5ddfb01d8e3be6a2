"""Property: random deployment events, valid and hostile, through the deployments agent's path (the forwarder's
check, then the step on its feed): hostile ones are refused with their reason, every valid request gets a state
(evaluated or rejected with a decision), and the step never stops."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.testing import Harness, message
from streams.deployments.steps import FEED, DeploymentsStep, event_target
from streams.exceptions import InvalidRecord
from tests.unit.streams.deployments.test_manager import POLICY, T0

IDS = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=12)
EVENTS = st.fixed_dictionaries(
    {
        "event_id": IDS,
        "kind": st.sampled_from(["request", "rollback", "report"]),
        "deployment_id": st.sampled_from(["d1", "d2", "d3"]),
        "server_id": st.sampled_from(["*", "s1", "s2"]),
        "league": st.none() | st.sampled_from(["NFL", "NBA", "WNBA"]),
        "version": st.none() | st.sampled_from(["", "v1", "v2"]),
        "previous_version": st.none() | st.just("v1"),
        "targets": st.lists(st.sampled_from(["s1", "s2", "s3", "*", ""]), max_size=4),
        "strategy": st.sampled_from(["canary", "all_at_once", "bogus", ""]),
        "force": st.booleans(),
        "requested_by": st.text(max_size=10),
        "status": st.none() | st.sampled_from(["applied", "failed", "rolled_back", "weird"]),
        "decision_id": st.none() | IDS,
        "detail": st.none() | st.text(max_size=30),
        "occurred_at": st.datetimes(datetime(2000, 1, 2), datetime(2099, 12, 30), timezones=st.just(UTC)),
    }
)
HOSTILE = [
    ("kind", "explode", "kind 'explode'"),
    ("kind", "tick", "kind 'tick'"),
    ("deployment_id", "", "deployment_id is empty"),
    ("event_id", "e" * 1000, "event_id of 1000 characters"),
    ("targets", ["s"] * 5000, "5000 targets"),
    ("detail", "d" * 100_000, "detail of 100000 characters"),
    ("occurred_at", datetime(1, 1, 1, tzinfo=UTC), "occurred_at 0001-01-01"),
]


@st.composite
def inputs(draw) -> tuple[list[dict], dict[int, str]]:
    events, expected = [], {}
    for _ in range(draw(st.integers(1, 20))):
        event = draw(EVENTS)
        if draw(st.booleans()):
            field, value, reason = draw(st.sampled_from(HOSTILE))
            expected[len(events)] = reason
            event = {**event, field: value}
        events.append(event)
    return events, expected


@settings(max_examples=100, deadline=None)
@given(inputs())
def test_valid_events_take_effect_and_hostile_ones_are_refused(case):
    events, expected = case
    refused, feed, requested = {}, [], set()
    for position, event in enumerate(events):
        try:
            event_target("DeploymentEvent", event)
        except InvalidRecord as exc:
            refused[position] = str(exc)
            continue
        feed.append(message(FEED, event, "DeploymentEvent"))
        if event["kind"] == "request":
            requested.add(event["deployment_id"])
    assert sorted(refused) == sorted(expected)
    for position, reason in expected.items():
        assert reason in refused[position]

    h = Harness(lambda: DeploymentsStep(POLICY, clock=lambda: T0 + timedelta(minutes=1)), {FEED: None}, batch_size=3)
    h.run(feed)
    assert h.dead_letters == []  # what passed the check never fails the step
    assert requested <= set(h.tables["deployments"])  # each request has a state: evaluated, or rejected
