"""Deployments: state (``deployment-state``), decisions (``deployment-decisions``), requests and rollbacks."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Header, Path, Request, Response, status

from api.commands import build_record, command_id
from api.deps import Admin, OwnVisible, Paging, StateDep, Visible, check_league
from api.exceptions import APIError
from api.models import Accepted, DeploymentCreate, Page, RollbackCreate
from api.responses import etag_json
from api.routers.admin import send_command
from connectors.auth.tokens import FORCE_SCOPE
from streams.deployments.safety import check_targets

router = APIRouter(prefix="/v1/deployments", tags=["deployments"])
TOPIC = "deployment-events"
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]


@router.get("", response_model=Page, summary="Deployments and their phase")
async def list_deployments(
    request: Request, state: StateDep, visible: Visible, paging: Paging, phase: str | None = None
) -> Response:
    items = state.read_model.keyed["deployments"].select(visible.where(phase=phase))
    items.sort(key=lambda d: d.get("requested_at") or "", reverse=True)
    return etag_json(request, paging.page(items))


@router.get("/{deployment_id}", summary="One deployment with its decisions")
async def get_deployment(request: Request, state: StateDep, visible: OwnVisible, deployment_id: str) -> Response:
    rm = state.read_model
    deployment = rm.keyed["deployments"].get(deployment_id)
    decisions = rm.logs["decisions"].by_index(deployment_id)
    visible.one(deployment or (decisions[-1] if decisions else None), f"no deployment {deployment_id[:100]!r}")
    return etag_json(request, {"deployment": deployment, "decisions": decisions})


@router.post("", status_code=status.HTTP_202_ACCEPTED, response_model=Accepted, summary="Request a deployment")
async def request_deployment(
    body: DeploymentCreate, state: StateDep, principal: Admin, idempotency_key: IdempotencyKey = None
) -> Accepted:
    check_league(principal, body.league)
    if body.force and not principal.has_scope(FORCE_SCOPE):
        raise APIError(403, f"force skips the safety checks: it needs the {FORCE_SCOPE!r} scope")
    verdict = check_targets(
        body.league, body.targets, state.read_model.server_leagues(), allow_unknown=principal.leagues is None
    )
    if not verdict.allowed:
        raise APIError(422, f"targets: {verdict.reason}")
    cause = body.model_dump(mode="json")
    deployment_id = command_id("dep", principal.subject, cause, idempotency_key)
    record = build_record(
        "DeploymentEvent",
        {
            **cause,
            "event_id": f"{deployment_id}-request",
            "kind": "request",
            "deployment_id": deployment_id,
            "server_id": "*",
            "requested_by": principal.subject,
            "occurred_at": datetime.now(UTC),
        },
    )
    return await send_command(state, TOPIC, "DeploymentEvent", record, "event_id")


@router.post(
    "/{deployment_id}/rollback",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Accepted,
    summary="Roll a deployment back",
)
async def rollback_deployment(
    deployment_id: Annotated[str, Path(max_length=100)],
    body: RollbackCreate,
    state: StateDep,
    principal: Admin,
    idempotency_key: IdempotencyKey = None,
) -> Accepted:
    known = state.read_model.keyed["deployments"].get(deployment_id)
    league = (known or {}).get("league")
    if known is not None and not principal.may_see(league):
        raise APIError(404, f"no deployment {deployment_id!r}")
    check_league(principal, league)  # an unknown deployment: only a credential of every league may roll it back
    cause = {"deployment_id": deployment_id, **body.model_dump(mode="json")}
    event_id = command_id("rollback", principal.subject, cause, idempotency_key)
    record = build_record(
        "DeploymentEvent",
        {
            "event_id": event_id,
            "kind": "rollback",
            "deployment_id": deployment_id,
            "server_id": "*",
            "league": league,
            "version": body.version,
            "requested_by": principal.subject,
            "detail": body.reason or None,
            "occurred_at": datetime.now(UTC),
        },
    )
    return await send_command(state, TOPIC, "DeploymentEvent", record, "event_id")
