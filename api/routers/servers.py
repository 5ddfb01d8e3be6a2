"""League servers' health (``server-health``)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from api.deps import OwnVisible, Paging, StateDep, Visible
from api.models import Page
from api.responses import etag_json

router = APIRouter(prefix="/v1/servers", tags=["servers"])


@router.get("", response_model=Page, summary="Health of every league server")
async def list_servers(
    request: Request, state: StateDep, visible: Visible, paging: Paging, status: str | None = None
) -> Response:
    items = state.read_model.keyed["servers"].select(visible.where(status=status))
    return etag_json(request, paging.page(items))


@router.get("/{server_id}", summary="Health of one server")
async def get_server(request: Request, state: StateDep, visible: OwnVisible, server_id: str) -> Response:
    server = visible.one(state.read_model.keyed["servers"].get(server_id), f"no server {server_id[:100]!r}")
    return etag_json(request, server)
