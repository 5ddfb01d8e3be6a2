"""A statsmodels refit is swapped in only if it beats the online ensemble on the SAME held-out samples.

Real bank_calls (5-minute call rates, weekdays 07:00-21:00): the refit's held-out MAE is its mean one-step error
over the last 288 samples of the history; the chosen model's rolling error is an EWMA of about the last 20
samples (an evening, say). Comparing those two, the old rule kept out a better refit at some cut points and let a
worse one in at others; these tests pick one cut point of each kind.
"""

from __future__ import annotations

import asyncio
import copy

import pytest

from connectors.sources.importers.load import read_named_trace
from connectors.sources.importers.load_io import parse_sample
from streams.agents.scaling import refit_league, refit_pool
from streams.scaling.forecasting.base import DAY
from streams.scaling.forecasting.ensemble import LeagueForecaster
from streams.scaling.forecasting.refit import refit

SPAN = 2535  # samples learned before a cut point: about three weeks of bank_calls


@pytest.fixture(scope="module")
def bank() -> list[tuple[float, float]]:
    return [(s["t"], s["workload"]) for s in map(parse_sample, read_named_trace("bank_calls"))]


def learned(samples: list[tuple[float, float]]) -> LeagueForecaster:
    forecaster = LeagueForecaster()
    for t, y in samples:
        forecaster.learn_one(t, y)
    return forecaster


def told_errors(samples: list[tuple[float, float]]) -> dict[float, float]:
    """What a fresh ensemble told the policy for each sample before seeing it, as abs errors (replayed)."""
    replay, errors = LeagueForecaster(), {}
    for t, y in samples:
        forecast = replay.forecast_at(t)
        if forecast is not None:
            errors[t] = abs(y - forecast)
        replay.learn_one(t, y)
    return errors


def test_a_refit_better_on_the_same_held_out_samples_is_swapped_in(bank):
    samples = bank[26000 - SPAN : 26000]
    forecaster = learned(samples)
    online = forecaster.chosen
    result = refit(list(forecaster.history), forecaster.step, models=("ets",))
    held_out = [t for t, _ in result.holdout]
    assert len(held_out) == 288 and held_out == [t for t, _ in samples[-288:]]
    # the old rule: worse than the chosen model's rolling error (the last ~20 samples), so kept out
    rolling = forecaster.accuracy()["rolling_mae"][online]
    assert result.holdout_mae > rolling
    assert not copy.deepcopy(forecaster).swap_in(copy.deepcopy(result.model), result.holdout_mae, result.last_t)
    # on the same held-out samples, the ensemble told the policy worse: the errors it recorded are exactly the
    # replayed ones, and the refit beats their mean
    told = told_errors(samples)
    online_mae = sum(told[t] for t in held_out) / len(held_out)
    refit_mae, recorded = forecaster.compare_holdout(result.holdout)
    assert refit_mae == pytest.approx(result.holdout_mae) and recorded == pytest.approx(online_mae, rel=1e-12)
    assert result.holdout_mae < online_mae
    assert forecaster.swap_in(result.model, result.holdout_mae, result.last_t, result.holdout)
    assert forecaster.chosen == "ets_refit" and forecaster.candidates["ets_refit"] is result.model
    assert forecaster.forecast(300.0) == result.model.forecast(300.0)


def test_a_refit_worse_on_the_same_held_out_samples_is_kept_out(bank):
    samples = bank[17000 - SPAN : 17000]
    forecaster = learned(samples)
    online, before = forecaster.chosen, forecaster.forecast(300.0)
    # a weak candidate (ETS on the last 3 days only)
    result = refit(list(forecaster.history), forecaster.step, models=("ets",), ets_window=3 * DAY)
    # the old rule: better than the chosen model's rolling error, so adopted
    assert result.holdout_mae < forecaster.accuracy()["rolling_mae"][online]
    legacy = copy.deepcopy(forecaster)
    assert legacy.swap_in(copy.deepcopy(result.model), result.holdout_mae, result.last_t)
    assert legacy.chosen == "ets_refit"
    # the new rule: the ensemble did better on those very samples
    refit_mae, online_mae = forecaster.compare_holdout(result.holdout)
    told = told_errors(samples)
    assert online_mae == pytest.approx(sum(told[t] for t, _ in result.holdout) / len(result.holdout), rel=1e-12)
    assert online_mae < refit_mae == pytest.approx(result.holdout_mae)
    assert not forecaster.swap_in(result.model, result.holdout_mae, result.last_t, result.holdout)
    assert forecaster.chosen == online and "ets_refit" not in forecaster.candidates
    assert forecaster.forecast(300.0) == before


def test_a_refit_is_kept_out_when_the_ensemble_scored_too_few_of_its_held_out_samples(bank):
    samples = bank[26000 - SPAN : 26000]
    result = refit(list(learned(samples).history), 300.0, models=("ets",))
    assert result is not None
    late = learned(samples[-140:])  # scored only the last 139 of the 288 held-out samples: under half
    assert late.compare_holdout(result.holdout) is None
    assert not late.swap_in(result.model, result.holdout_mae, result.last_t, result.holdout)
    assert "ets_refit" not in late.candidates
    enough = learned(samples[-150:])  # 149 of them: compared on those
    refit_mae, _ = enough.compare_holdout(result.holdout)
    assert refit_mae == pytest.approx(sum(e for t, e in result.holdout if t > samples[-150][0]) / 149)


def test_the_agents_refit_through_the_process_pool_compares_the_same_samples(bank):
    # the agent's path (snapshot -> pool -> pickled result -> swap_in) at a cut point where the old rule kept
    # the refit out (held-out MAE above the rolling error) and the refit is better on the same samples
    forecaster = learned(bank[14000 - SPAN : 14000])
    online = forecaster.chosen
    rolling = forecaster.accuracy()["rolling_mae"][online]
    pool = refit_pool()
    try:
        result = asyncio.run(refit_league(pool, "NBA", forecaster))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    assert result is not None and set(result.candidates) == {"ets", "arima"} and len(result.holdout) == 288
    assert result.holdout_mae > rolling
    assert forecaster.chosen == result.model.name != online
    # its rolling error starts as the others': an EWMA of its held-out one-step errors (decay 0.05)
    ewma = result.holdout[0][1]
    for _, err in result.holdout[1:]:
        ewma += 0.05 * (err - ewma)
    assert forecaster.accuracy()["rolling_mae"][result.model.name] == pytest.approx(ewma)
    assert ewma < rolling  # lower than the chosen model's over the last samples, too: it answers from now on


def test_arima_on_under_a_week_of_samples_has_no_weekly_harmonics():
    from streams.scaling.forecasting.arima import fit_arima

    step = 300.0
    history = [(1_767_225_600.0 + step * i, 1.0 + (i % 288) / 288) for i in range(3 * 288)]  # three days
    model = fit_arima(history, step)
    assert model is not None and model.weekly == 0 and model.daily == 8
