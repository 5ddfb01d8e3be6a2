"""Scaling: current agents and policy per league (``scaling-state``) and the decisions (``scaling-commands``)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from api.deps import Paging, StateDep, Visible
from api.models import Page
from api.responses import etag_json

router = APIRouter(prefix="/v1/scaling", tags=["scaling"])


@router.get("", response_model=Page, summary="Scaling state per league")
async def list_scaling(request: Request, state: StateDep, visible: Visible, paging: Paging) -> Response:
    items = state.read_model.keyed["scaling"].select(visible.keeps)
    return etag_json(request, paging.page(items))


@router.get("/history", response_model=Page, summary="Scaling decisions, newest first")
async def scaling_history(request: Request, state: StateDep, visible: Visible, paging: Paging) -> Response:
    items = state.read_model.logs["scaling_history"].recent(visible.keeps)
    return etag_json(request, paging.page(items))
