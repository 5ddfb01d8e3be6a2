"""Circuit breakers (``breaker-state``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from api.deps import Paging, StateDep, Visible
from api.models import Page
from api.responses import etag_json

router = APIRouter(prefix="/v1/breakers", tags=["breakers"])


@router.get("", response_model=Page, summary="State of every circuit breaker")
async def list_breakers(
    request: Request,
    state: StateDep,
    visible: Visible,
    paging: Paging,
    state_name: Annotated[str | None, Query(alias="state")] = None,
) -> Response:
    items = state.read_model.keyed["breakers"].select(visible.where(state=state_name))
    return etag_json(request, paging.page(items))
