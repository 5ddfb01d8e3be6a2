"""Per-league state: tweet budget (``tweet-budgets``) and load forecast (``load-forecasts``)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from api.deps import Reader, StateDep
from api.exceptions import APIError
from api.models import League
from api.responses import etag_json

router = APIRouter(prefix="/v1/leagues", tags=["leagues"])


def _league_only(principal, league: str) -> None:
    if not principal.may_see(league):
        raise APIError(404, f"no data for league {league}")


@router.get("/{league}/budget", summary="Tweet budget of the league's accounts")
async def get_budget(request: Request, state: StateDep, principal: Reader, league: League) -> Response:
    _league_only(principal, league)
    budgets = state.read_model.keyed["budgets"].select(
        lambda b: b.get("league") == league or str(b.get("account", "")).upper().endswith(league)
    )
    return etag_json(request, {"league": league, "budgets": budgets})


@router.get("/{league}/forecast", summary="Load forecast of the league")
async def get_forecast(request: Request, state: StateDep, principal: Reader, league: League) -> Response:
    _league_only(principal, league)
    view = state.read_model.keyed["forecasts"]
    forecast = view.get(league)
    forecasts = [forecast] if forecast else view.select(lambda f: f.get("league") == league)
    return etag_json(request, {"league": league, "forecasts": forecasts})
