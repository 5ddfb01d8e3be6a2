"""Admin actions (scope ``admin``): scaling overrides, league events, alert silences (and their cancellation);
dead-letter summary.

A cancellation (``DELETE``) is the object's record again with ``cancelled: true`` on its own topic (see
:mod:`connectors.admin_records`), audited on ``audit-log``; an unknown id, or one of another league, is 404.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Body, Header, Path, Query, Request, Response, status

from api.commands import build_record, command_id
from api.deps import Admin, Paging, StateDep, Visibility, Visible, check_league, require_unbound
from api.exceptions import APIError
from api.models import Accepted, CancelBody, LeagueEventCreate, OverrideCreate, Page, SilenceCreate
from api.responses import etag_json
from api.views import dumps
from connectors.admin_records import CANCELLABLE, audit_entry, cancellation
from connectors.config import TOPICS
from schemas.json_form import from_json

router = APIRouter(tags=["admin"])
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]
ACCEPTED = {"status_code": status.HTTP_202_ACCEPTED, "response_model": Accepted}
MAX_RECORD_BYTES = 512 * 1024  # well inside the broker's 1 MB message limit, with room for headers and Avro


async def send_command(state, topic: str, schema: str, record: dict, id_field: str) -> Accepted:
    """Produce a command record (acknowledged by Kafka) and answer what was produced."""
    if topic not in TOPICS:
        raise APIError(503, f"topic {topic!r} is not declared; this action is not available yet")
    if len(dumps(record)) > MAX_RECORD_BYTES:
        raise APIError(413, f"command over {MAX_RECORD_BYTES} bytes")
    sent = await state.sender.send(topic, schema, record)
    state.metrics.commands.labels(topic).inc()
    return Accepted(command_id=record[id_field], topic=topic, record=sent)


async def audit(state, entry: dict) -> str:
    """Produce an AuditEntry (acknowledged before the action is answered); return its id."""
    await send_command(state, "audit-log", "AuditEntry", entry, "audit_id")
    return entry["audit_id"]


ObjectId = Annotated[str, Path(min_length=1, max_length=200)]
ReasonQuery = Annotated[str | None, Query(min_length=3, max_length=500, description="Why (audited).")]
OptionalBody = Annotated[CancelBody | None, Body()]


async def cancel(
    state, principal, kind: str, view: str, target_id: str, reason: str | None, body: CancelBody | None
) -> Accepted:
    """Cancel an override, event or silence the caller may see (404 otherwise), audited."""
    why = reason or (body.reason if body else None)
    if not why:
        raise APIError(422, "reason: give why (query parameter reason or body field reason), 3-500 characters")
    record = Visibility(principal).one(state.read_model.keyed[view].get(target_id), f"no {kind} {target_id}")
    _, schema, _ = CANCELLABLE[kind]
    now = datetime.now(UTC)
    original = from_json(schema, {k: v for k, v in record.items() if k != "cancelled"})
    topic_name, schema, cancelled = cancellation(kind, target_id, principal.subject, why, now, original=original)
    league = cancelled.get("league") or cancelled.get("matchers", {}).get("league")
    entry = audit_entry(f"{kind}.cancel", target_id, league, principal.subject, why, now)
    accepted = await send_command(state, topic_name, schema, cancelled, CANCELLABLE[kind][2])
    accepted.audit_id = await audit(state, entry)
    return accepted


@router.post("/v1/overrides", **ACCEPTED, summary="Override scaling of a league until it expires")
async def create_override(
    body: OverrideCreate, state: StateDep, principal: Admin, idempotency_key: IdempotencyKey = None
) -> Accepted:
    check_league(principal, body.league)
    now = datetime.now(UTC)
    expires = body.expires_at or now + timedelta(seconds=body.ttl_seconds or 0)
    cause = {**body.model_dump(mode="json", exclude={"ttl_seconds"}), "expires_at": expires.isoformat()}
    record = build_record(
        "ScalingOverride",
        {
            **cause,
            "override_id": command_id("override", principal.subject, cause, idempotency_key),
            "expires_at": expires,
            "created_at": now,
            "created_by": principal.subject,
        },
    )
    return await send_command(state, "scaling-overrides", "ScalingOverride", record, "override_id")


@router.post("/v1/events", **ACCEPTED, summary="Announce a league event (event scaling)")
async def create_event(
    body: LeagueEventCreate, state: StateDep, principal: Admin, idempotency_key: IdempotencyKey = None
) -> Accepted:
    check_league(principal, body.league)
    starts = body.starts_at or datetime.now(UTC)
    cause = {**body.model_dump(mode="json"), "starts_at": starts.isoformat()}
    record = build_record(
        "LeagueEvent",
        {**cause, "event_id": command_id("event", principal.subject, cause, idempotency_key), "starts_at": starts},
    )
    return await send_command(state, "league-events", "LeagueEvent", record, "event_id")


@router.post("/v1/silences", **ACCEPTED, summary="Silence alerts matching labels for a while")
async def create_silence(
    body: SilenceCreate, state: StateDep, principal: Admin, idempotency_key: IdempotencyKey = None
) -> Accepted:
    check_league(principal, body.matchers.get("league"))
    starts = body.starts_at or datetime.now(UTC)
    ends = body.ends_at or starts + timedelta(seconds=body.duration_seconds or 0)
    cause = {"matchers": body.matchers, "starts_at": starts.isoformat(), "ends_at": ends.isoformat()}
    cause["comment"] = body.comment
    record = build_record(
        "Silence",
        {
            **cause,
            "silence_id": command_id("silence", principal.subject, cause, idempotency_key),
            "starts_at": starts,
            "ends_at": ends,
            "created_by": principal.subject,
            "created_at": datetime.now(UTC),
        },
    )
    return await send_command(state, "silences", "Silence", record, "silence_id")


@router.delete("/v1/overrides/{override_id}", **ACCEPTED, summary="Cancel a scaling override now")
async def cancel_override(
    override_id: ObjectId, state: StateDep, principal: Admin, reason: ReasonQuery = None, body: OptionalBody = None
) -> Accepted:
    return await cancel(state, principal, "override", "overrides", override_id, reason, body)


@router.delete("/v1/events/{event_id}", **ACCEPTED, summary="Cancel a league event now")
async def cancel_event(
    event_id: ObjectId, state: StateDep, principal: Admin, reason: ReasonQuery = None, body: OptionalBody = None
) -> Accepted:
    return await cancel(state, principal, "event", "events", event_id, reason, body)


@router.delete("/v1/silences/{silence_id}", **ACCEPTED, summary="Cancel an alert silence now")
async def cancel_silence(
    silence_id: ObjectId, state: StateDep, principal: Admin, reason: ReasonQuery = None, body: OptionalBody = None
) -> Accepted:
    return await cancel(state, principal, "silence", "silences", silence_id, reason, body)


@router.get("/v1/silences", response_model=Page, summary="Alert silences (active ones by default)")
async def list_silences(
    request: Request, state: StateDep, visible: Visible, paging: Paging, include_expired: bool = False
) -> Response:
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    items = state.read_model.keyed["silences"].select(
        lambda s: visible.keeps(s) and (include_expired or (str(s.get("ends_at", "")) > now and not s.get("cancelled")))
    )
    return etag_json(request, paging.page(items))


@router.get("/v1/admin/dead-letters", summary="Dead letters per source topic and reason (no raw payloads)")
async def dead_letters(request: Request, state: StateDep, principal: Admin) -> Response:
    require_unbound(principal, "dead letters")
    return etag_json(request, state.read_model.dead_letters.as_dict())
