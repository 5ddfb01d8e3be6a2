"""Alerts: the latest transition per fingerprint (``alerts``) and the recent transitions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from api.deps import Paging, StateDep, Visible
from api.models import Page
from api.responses import etag_json

router = APIRouter(prefix="/v1/alerts", tags=["alerts"])


@router.get("", response_model=Page, summary="Current alerts (firing by default)")
async def list_alerts(
    request: Request,
    state: StateDep,
    visible: Visible,
    paging: Paging,
    status: Annotated[str | None, Query(pattern="^(firing|resolved|all)$")] = "firing",
    severity: str | None = None,
    server_id: str | None = None,
) -> Response:
    status = None if status == "all" else status
    keep = visible.where(status=status, severity=severity, server_id=server_id)
    items = state.read_model.keyed["alerts"].select(keep)
    items.sort(key=lambda a: a.get("at") or "", reverse=True)
    return etag_json(request, paging.page(items))


@router.get("/history", response_model=Page, summary="Alert transitions, newest first")
async def alert_history(
    request: Request, state: StateDep, visible: Visible, paging: Paging, server_id: str | None = None
) -> Response:
    items = state.read_model.logs["alert_history"].recent(visible.where(server_id=server_id))
    return etag_json(request, paging.page(items))
