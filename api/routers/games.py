"""Games: current state, win probability and top moments (from ``game-state`` and ``tweet-commands``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from api.deps import OwnVisible, Paging, StateDep, Visible
from api.models import GameDetail, Page
from api.responses import etag_json

router = APIRouter(prefix="/v1/games", tags=["games"])
TOP_MOMENTS = 5


@router.get("", response_model=Page, summary="List games")
async def list_games(
    request: Request,
    state: StateDep,
    visible: Visible,
    paging: Paging,
    status: Annotated[str | None, Query(pattern="^(scheduled|live|final)$")] = None,
) -> Response:
    games = state.read_model.keyed["games"].select(visible.where(status=status))
    return etag_json(request, paging.page(games))


@router.get("/{game_id}", response_model=GameDetail, summary="One game with its top moments")
async def get_game(request: Request, state: StateDep, visible: OwnVisible, game_id: str) -> Response:
    game = visible.one(state.read_model.keyed["games"].get(game_id), f"no game {game_id[:100]!r}")
    tweets = state.read_model.logs["tweets"].by_index(game_id)
    top = sorted(tweets, key=lambda t: -float(t.get("significance") or 0))[:TOP_MOMENTS]
    moments = [
        {k: t.get(k) for k in ("play_id", "significance", "urgency", "style", "text", "win_prob_home", "occurred_at")}
        for t in top
    ]
    return etag_json(request, {"game": game, "top_moments": moments})
