"""Scaling: current agents and policy per league (``scaling-state``) and the decisions (``scaling-commands``)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from api.deps import Paging, Reader, StateDep
from api.models import League, Page
from api.responses import etag_json

router = APIRouter(prefix="/v1/scaling", tags=["scaling"])


@router.get("", response_model=Page, summary="Scaling state per league")
async def list_scaling(request: Request, state: StateDep, principal: Reader, paging: Paging) -> Response:
    items = state.read_model.keyed["scaling"].select(lambda s: principal.may_see(s.get("league")))
    return etag_json(request, paging.page(items))


@router.get("/history", response_model=Page, summary="Scaling decisions, newest first")
async def scaling_history(
    request: Request, state: StateDep, principal: Reader, paging: Paging, league: League | None = None
) -> Response:
    items = state.read_model.logs["scaling_history"].recent(
        lambda c: (league is None or c.get("league") == league) and principal.may_see(c.get("league"))
    )
    return etag_json(request, paging.page(items))
