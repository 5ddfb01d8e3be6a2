"""Cancelling and flags end to end on a real API server and the real broker: the API call, the records on
their topics (cancellation, flag, audit entry), and refusal without the admin scope."""

from __future__ import annotations

import uuid

from connectors.testing import wait_until
from tests.integration.api.test_server import _find, api, bearer  # noqa: F401 (the module's API fixture)


def test_an_override_is_cancelled_through_the_api_and_audited(api, broker):  # noqa: F811
    body = {"league": "NFL", "reason": f"hold {uuid.uuid4().hex[:6]}", "max_agents": 3, "ttl_seconds": 7200}
    override_id = api.post("/v1/overrides", headers=bearer("admin", "alice"), json=body).json()["command_id"]

    def cancel(headers):
        return api.delete(f"/v1/overrides/{override_id}", params={"reason": "set by mistake"}, headers=headers)

    assert cancel(bearer("read")).status_code == 403
    # the read model learns the override from the topic; until then the id is unknown (404)
    r = wait_until(lambda: (lambda r: r if r.status_code == 202 else None)(cancel(bearer("admin", "carol"))), 15)
    assert r.json()["command_id"] == override_id

    def cancelled_on_topic():
        record = _last(broker, "scaling-overrides", "override_id", override_id)
        return record if record and record["cancelled"] else None

    cancelled = wait_until(cancelled_on_topic, 10)
    assert (cancelled["league"], cancelled["max_agents"], cancelled["created_by"]) == ("NFL", 3, "carol")
    audit = _find(broker, "audit-log", "audit_id", r.json()["audit_id"])
    assert audit and (audit["action"], audit["target"], audit["actor"], audit["reason"]) == (
        "override.cancel",
        override_id,
        "carol",
        "set by mistake",
    )


def test_a_flag_is_set_through_the_api_read_back_and_audited(api, broker):  # noqa: F811
    body = {"value": "forecast-only", "league": "WNBA", "reason": "trying a new model"}
    assert api.put("/v1/flags/scaling.actions", json=body, headers=bearer("read")).status_code == 403
    r = api.put("/v1/flags/scaling.actions", json=body, headers=bearer("admin", "dan"))
    assert r.status_code == 202, r.text
    flag = _find(broker, "feature-flags", "flag_id", "scaling.actions@WNBA")
    assert flag and (flag["value"], flag["set_by"]) == ("forecast-only", "dan")
    assert _find(broker, "audit-log", "audit_id", r.json()["audit_id"])["action"] == "flag.set"

    def listed():
        items = api.get("/v1/flags", headers=bearer()).json()["items"]
        return [f for f in items if f["flag_id"] == "scaling.actions@WNBA"]

    assert wait_until(listed, 10)[0]["value"] == "forecast-only"


def _last(bootstrap: str, topic: str, field: str, value: str) -> dict | None:
    """The last record of ``topic`` whose ``field`` is ``value``."""
    from connectors.kafka.edge import consume_records

    found = None
    for _, record in consume_records(bootstrap, topic, timeout=3):
        if record.get(field) == value:
            found = record
    return found
