"""Tweet commands and their publish status (``tweet-commands``), newest first."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from api.deps import Paging, StateDep, Visible
from api.models import Page
from api.responses import etag_json

router = APIRouter(prefix="/v1/tweets", tags=["tweets"])


@router.get("", response_model=Page, summary="Recent tweet commands")
async def list_tweets(
    request: Request,
    state: StateDep,
    visible: Visible,
    paging: Paging,
    game_id: str | None = None,
    account: str | None = None,
) -> Response:
    rm = state.read_model
    receipts = rm.keyed.get("tweet_receipts")
    items = rm.logs["tweets"].recent(visible.where(game_id=game_id, account=account))
    page = paging.page(items)
    page["items"] = [_with_status(t, receipts) for t in page["items"]]
    return etag_json(request, page)


def _with_status(tweet: dict, receipts) -> dict:
    if receipts is None:  # no publisher outcomes topic yet: the status is not known to the API
        return {**tweet, "publish_status": "unknown", "receipt": None}
    receipt = receipts.get(tweet.get("command_id", ""))
    status = (receipt or {}).get("status") or "pending"
    return {**tweet, "publish_status": status, "receipt": receipt}
