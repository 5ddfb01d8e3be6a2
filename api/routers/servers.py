"""League servers' health (``server-health``)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from api.deps import Paging, Reader, StateDep
from api.exceptions import APIError
from api.models import League, Page
from api.responses import etag_json

router = APIRouter(prefix="/v1/servers", tags=["servers"])


@router.get("", response_model=Page, summary="Health of every league server")
async def list_servers(
    request: Request,
    state: StateDep,
    principal: Reader,
    paging: Paging,
    league: League | None = None,
    status: str | None = None,
) -> Response:
    items = state.read_model.keyed["servers"].select(
        lambda s: (
            (league is None or s.get("league") == league)
            and (status is None or s.get("status") == status)
            and principal.may_see(s.get("league"))
        )
    )
    return etag_json(request, paging.page(items))


@router.get("/{server_id}", summary="Health of one server")
async def get_server(request: Request, state: StateDep, principal: Reader, server_id: str) -> Response:
    server = state.read_model.keyed["servers"].get(server_id)
    if server is None or not principal.may_see(server.get("league")):
        raise APIError(404, f"no server {server_id[:100]!r}")
    return etag_json(request, server)
