"""Games: current state, win probability and top moments (from ``game-state`` and ``tweet-commands``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from api.deps import Paging, Reader, StateDep
from api.exceptions import APIError
from api.models import GameDetail, League, Page
from api.responses import etag_json

router = APIRouter(prefix="/v1/games", tags=["games"])
TOP_MOMENTS = 5


@router.get("", response_model=Page, summary="List games")
async def list_games(
    request: Request,
    state: StateDep,
    principal: Reader,
    paging: Paging,
    league: League | None = None,
    status: Annotated[str | None, Query(pattern="^(scheduled|live|final)$")] = None,
) -> Response:
    games = state.read_model.keyed["games"].select(
        lambda g: (
            (league is None or g.get("league") == league)
            and (status is None or g.get("status") == status)
            and principal.may_see(g.get("league"))
        )
    )
    return etag_json(request, paging.page(games))


@router.get("/{game_id}", response_model=GameDetail, summary="One game with its top moments")
async def get_game(request: Request, state: StateDep, principal: Reader, game_id: str) -> Response:
    game = state.read_model.keyed["games"].get(game_id)
    if game is None or not principal.may_see(game.get("league")):  # same answer: no hint it exists
        raise APIError(404, f"no game {game_id[:100]!r}")
    tweets = state.read_model.logs["tweets"].by_index(game_id)
    top = sorted(tweets, key=lambda t: -float(t.get("significance") or 0))[:TOP_MOMENTS]
    moments = [
        {k: t.get(k) for k in ("play_id", "significance", "urgency", "style", "text", "win_prob_home", "occurred_at")}
        for t in top
    ]
    return etag_json(request, {"game": game, "top_moments": moments})
