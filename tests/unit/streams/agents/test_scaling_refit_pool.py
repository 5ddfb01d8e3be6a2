"""The periodic refit on the agent's real path: history snapshot -> process pool -> pickled result -> swap_in."""

from __future__ import annotations

import asyncio
import copy
import pickle

import pytest

from connectors.sources.importers.load import read_named_trace
from connectors.sources.importers.load_io import parse_sample
from streams.agents.scaling import refit_league, refit_pool
from streams.scaling.forecasting.base import DAY
from streams.scaling.forecasting.ensemble import LeagueForecaster

NAMES = {"ets": "ets_refit", "arima": "arima_refit"}


@pytest.fixture(scope="module")
def trained() -> LeagueForecaster:
    """A league forecaster that learned three weeks of bank_calls (5-minute call rates, weekdays 07:00-21:00)."""
    samples = [parse_sample(s) for s in read_named_trace("bank_calls")][5000:7535]
    forecaster = LeagueForecaster()
    for s in samples:
        forecaster.learn_one(s["t"], s["workload"])
    assert forecaster.step == 300.0 and len(forecaster.history) == len(samples)
    return forecaster


@pytest.fixture(scope="module")
def pool():
    executor = refit_pool()
    yield executor
    executor.shutdown(wait=True, cancel_futures=True)


def test_refit_through_the_process_pool_is_swapped_in_only_if_better(trained, pool):
    chosen, last_t = trained.chosen, trained.history[-1][0]
    refusing, adopting = copy.deepcopy(trained), copy.deepcopy(trained)

    # a refit better than what the ensemble told the policy on the same held-out samples: adopted
    result = asyncio.run(refit_league(pool, "NBA", adopting))
    assert result is not None and set(result.candidates) == {"ets", "arima"}
    assert result.holdout_mae == min(result.candidates.values()) and 0 < result.holdout_mae < 0.1  # calls/s 0..1
    assert result.last_t == last_t and result.fitted_on == len(trained.history) - 288
    assert result.model.name == NAMES[min(result.candidates, key=result.candidates.get)]
    refit_mae, online_mae = trained.compare_holdout(result.holdout)
    assert refit_mae == pytest.approx(result.holdout_mae) and refit_mae < online_mae
    assert adopting.chosen == result.model.name and adopting.candidates[result.model.name] is result.model
    assert result.model.last_t == last_t and adopting.forecast(300.0) == result.model.forecast(300.0)
    assert adopting.forecast(300.0) != trained.forecast(300.0)
    again = pickle.loads(pickle.dumps(result))  # what the pool sent back pickles again (forecaster snapshots)
    assert again.model.forecast(300.0) == result.model.forecast(300.0)

    # a worse refit (ARIMA on two days only) comes back from the other process but is kept out
    worse = asyncio.run(refit_league(pool, "NBA", refusing, models=("arima",), arima_window=2 * DAY))
    assert worse is not None and worse.holdout_mae > online_mae
    assert refusing.chosen == chosen and worse.model.name not in refusing.candidates
    assert refusing.forecast(300.0) == trained.forecast(300.0)


def test_a_failed_or_impossible_refit_keeps_the_online_models(trained, pool):
    model = copy.deepcopy(trained)
    before = model.forecast(300.0)
    assert asyncio.run(refit_league(pool, "NBA", model, holdout="bad")) is None  # raised in the pool process
    assert model.chosen == trained.chosen and model.forecast(300.0) == before
    short = LeagueForecaster()
    for t, y in list(trained.history)[:300]:
        short.learn_one(t, y)
    assert asyncio.run(refit_league(pool, "NBA", short)) is None  # too little history: nothing to fit
    assert asyncio.run(refit_league(pool, "NBA", LeagueForecaster())) is None  # nothing learned yet
