"""Alerts: the latest transition per fingerprint (``alerts``) and the recent transitions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from api.deps import Paging, Reader, StateDep
from api.models import League, Page
from api.responses import etag_json

router = APIRouter(prefix="/v1/alerts", tags=["alerts"])


def _matches(alert: dict, principal, status, severity, league, server_id) -> bool:
    return (
        (status is None or alert.get("status") == status)
        and (severity is None or alert.get("severity") == severity)
        and (league is None or alert.get("league") == league)
        and (server_id is None or alert.get("server_id") == server_id)
        and principal.may_see(alert.get("league"))
    )


@router.get("", response_model=Page, summary="Current alerts (firing by default)")
async def list_alerts(
    request: Request,
    state: StateDep,
    principal: Reader,
    paging: Paging,
    status: Annotated[str | None, Query(pattern="^(firing|resolved|all)$")] = "firing",
    severity: str | None = None,
    league: League | None = None,
    server_id: str | None = None,
) -> Response:
    status = None if status == "all" else status
    items = state.read_model.keyed["alerts"].select(
        lambda a: _matches(a, principal, status, severity, league, server_id)
    )
    items.sort(key=lambda a: a.get("at") or "", reverse=True)
    return etag_json(request, paging.page(items))


@router.get("/history", response_model=Page, summary="Alert transitions, newest first")
async def alert_history(
    request: Request,
    state: StateDep,
    principal: Reader,
    paging: Paging,
    league: League | None = None,
    server_id: str | None = None,
) -> Response:
    items = state.read_model.logs["alert_history"].recent(
        lambda a: _matches(a, principal, None, None, league, server_id)
    )
    return etag_json(request, paging.page(items))
