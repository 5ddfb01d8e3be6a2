"""Feature flags: run-time switches the agents read from ``feature-flags`` (see
:mod:`streams.runtime.feature_flags`). Setting one needs the ``admin`` scope and is audited on ``audit-log``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Request, Response

from api.deps import Admin, Paging, StateDep, Visible, check_league
from api.exceptions import APIError
from api.models import Accepted, FlagSet, Page
from api.responses import etag_json
from api.routers.admin import ACCEPTED, audit, send_command
from connectors.admin_records import audit_entry, feature_flag
from streams.runtime.feature_flags import flag_problem, normalized_value

router = APIRouter(tags=["flags"])
FlagName = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_.\-]{1,63}$", examples=["scaling.actions"])]


@router.put("/v1/flags/{name}", **ACCEPTED, summary="Set a feature flag (for every league or one league)")
async def set_flag(name: FlagName, body: FlagSet, state: StateDep, principal: Admin) -> Accepted:
    check_league(principal, body.league)  # a league-bound admin sets only its leagues' flags, never a global one
    problem = flag_problem(name, body.value, body.league)
    if problem is not None:
        raise APIError(422, problem)
    now = datetime.now(UTC)
    record = feature_flag(name, body.value, body.league, principal.subject, body.reason, now)
    entry = audit_entry(
        "flag.set",
        record["flag_id"],
        body.league,
        principal.subject,
        body.reason,
        now,
        {"value": normalized_value(body.value)},
    )
    accepted = await send_command(state, "feature-flags", "FeatureFlag", record, "flag_id")
    accepted.audit_id = await audit(state, entry)
    return accepted


@router.get("/v1/flags", response_model=Page, summary="Feature flags set (global ones and the caller's leagues')")
async def list_flags(request: Request, state: StateDep, visible: Visible, paging: Paging) -> Response:
    def shown(flag: dict) -> bool:
        if flag.get("league") is None:  # a global flag applies to every league: every caller may know it
            return True
        return visible.keeps(flag)

    items = state.read_model.keyed["flags"].select(shown)
    return etag_json(request, paging.page(items))
