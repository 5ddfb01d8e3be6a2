"""The ``LoadForecast`` record of a league's forecaster (for the load-forecasts topic and the API)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from streams.scaling.forecasting.ensemble import LeagueForecaster


def forecast_record(
    league: str, forecaster: LeagueForecaster, computed_at: float, workload: float, horizon: float
) -> dict[str, Any]:
    forecast = forecaster.forecast(horizon)
    headroom = forecaster.headroom(forecast, computed_at + horizon)
    accuracy = forecaster.accuracy()
    one = accuracy["one_step"]
    return {
        "league": league,
        "computed_at": datetime.fromtimestamp(computed_at, UTC),
        "workload": float(workload),
        "horizon_seconds": float(horizon),
        "forecast": forecast,
        "forecast_upper": None if forecast is None else forecast * (1.0 + headroom),
        "model": accuracy["model"],
        "samples": forecaster.samples,
        "mae": one["mae"],
        "mape": one["mape"],
        "horizons": accuracy["horizons"],
    }
