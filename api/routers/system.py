"""Liveness, readiness, Prometheus metrics and the read model's status."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST

from api.deps import Reader, StateDep

router = APIRouter(tags=["system"])


@router.get("/health", summary="Liveness: the process answers")
async def health() -> dict:
    return {"status": "ok"}


@router.get("/ready", summary="Readiness: broker reachable and read model caught up (503 with the reason)")
async def ready(state: StateDep) -> JSONResponse:
    ok, reason = state.read_model.readiness()
    st = state.read_model.status
    body = {
        "ready": ok,
        "reason": reason,
        "broker_reachable": st.broker_reachable,
        "caught_up": st.caught_up,
        "lag": st.total_lag,
    }
    return JSONResponse(body, 200 if ok else 503, headers={"Cache-Control": "no-store"})


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(state: StateDep) -> Response:
    return Response(state.metrics.render(), media_type=CONTENT_TYPE_LATEST)


@router.get("/v1/system/read-model", summary="Read-model status: lag, skipped topics, decode errors per topic")
async def read_model_status(state: StateDep, principal: Reader) -> dict:
    return state.read_model.describe()
