"""Per-league state: tweet budget (``tweet-budgets``) and load forecast (``load-forecasts``)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from api.deps import LeagueVisible, StateDep
from api.responses import etag_json

router = APIRouter(prefix="/v1/leagues", tags=["leagues"])


@router.get("/{league}/budget", summary="Tweet budget of the league's accounts")
async def get_budget(request: Request, state: StateDep, visible: LeagueVisible) -> Response:
    budgets = state.read_model.keyed["budgets"].select(visible.keeps)
    return etag_json(request, {"league": visible.league, "budgets": budgets})


@router.get("/{league}/forecast", summary="Load forecast of the league")
async def get_forecast(request: Request, state: StateDep, visible: LeagueVisible) -> Response:
    forecasts = state.read_model.keyed["forecasts"].select(visible.keeps)
    return etag_json(request, {"league": visible.league, "forecasts": forecasts})
