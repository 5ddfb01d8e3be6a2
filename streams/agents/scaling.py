"""The scaling agent: league inputs -> :class:`streams.scaling.steps.ScalingStep` -> ``scaling-commands``,
``load-forecasts``, ``scaling-state``.

``system-metrics`` (keyed by server), ``league-events``, ``scaling-overrides`` and the ``scaling.actions`` flags of
``feature-flags`` are forwarded into ``scaling-feed`` by league (:func:`streams.scaling.steps.feed_target`). The online forecasters live in memory,
are snapshotted to ``data_dir`` every minute (and reloaded at start, so a restart does not forget the seasons),
and are refitted with statsmodels (ETS and ARIMA candidates) every ``scaling_refit_seconds`` in a separate
process (off the event loop and off its GIL).
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import pickle
from concurrent.futures import Executor, ProcessPoolExecutor
from functools import partial
from pathlib import Path

import faust

from streams.health.system_metrics import validate_metrics
from streams.runtime.agent_context import AgentContext, StepRunner, forward
from streams.scaling.forecasting.ensemble import LeagueForecaster, build_model
from streams.scaling.forecasting.refit import RefitResult, refit
from streams.scaling.league_profiles import load_profiles
from streams.scaling.policy import PolicyConfig
from streams.scaling.steps import FEED, Forecasters, ScalingStep, feed_target
from streams.topics import topic

log = logging.getLogger(__name__)
# input topic -> (validation when decoding, whether this agent reports what does not decode): system-metrics and
# league-events have their main readers (health, schedule), which dead-letter a bad message once
INPUTS = {
    "system-metrics": (validate_metrics, False),
    "league-events": (None, False),
    "scaling-overrides": (None, True),
    "feature-flags": (None, False),  # the flags' other readers (games) report what does not decode
}


def install(app: faust.App, ctx: AgentContext) -> None:
    settings = ctx.settings
    table = ctx.table("scaling", "ScalingState", source_topic=FEED.name, help_text="Scaling state per league.")
    flags = ctx.table("scaling-flags", "FeatureFlag", source_topic=FEED.name, help_text="scaling.actions flags.")
    models = tuple(m.strip() for m in settings.scaling_models.split(",") if m.strip())
    for name in models:
        build_model(name, 300.0)  # a bad WIREREPORT_SCALING_MODELS fails the worker at start, not on a sample
    snapshot = Path(settings.data_dir) / "scaling-forecasters.pickle"
    forecasters = Forecasters(
        models, load_profiles(settings.scaling_profiles), settings.scaling_headroom_quantile, _load(snapshot)
    )
    step = ScalingStep(PolicyConfig.from_settings(settings), forecasters, settings.metrics_interval_seconds)
    runner = StepRunner(ctx, step, {"scaling": table, "scaling-flags": flags})

    for name, (validate, report) in INPUTS.items():

        async def route(stream: faust.StreamT, spec=topic(name), validate=validate, report=report) -> None:
            await forward(ctx, stream, spec, FEED, feed_target, validate=validate, report=report)

        app.agent(ctx.topic(name), name=f"scaling-route-{name}")(route)

    @app.agent(ctx.topic(FEED.name), name="scaling")
    async def scale(stream: faust.StreamT) -> None:
        await runner.run(stream, FEED)

    @app.timer(interval=60.0)
    async def save_forecasters() -> None:
        _save(snapshot, forecasters.by_league)

    @app.on_before_shutdown.connect
    async def save_at_shutdown(app, **kwargs) -> None:
        _save(snapshot, forecasters.by_league)

    if settings.scaling_refit_seconds > 0:
        refits = RefitPool()

        @app.timer(interval=settings.scaling_refit_seconds)
        async def refit_models() -> None:
            for league, model in list(forecasters.by_league.items()):
                await refit_league(refits.executor(), league, model)

        @app.on_before_shutdown.connect
        async def stop_refits(app, **kwargs) -> None:
            refits.shutdown()


class RefitPool:
    """The refits' executor, started at the first refit."""

    def __init__(self) -> None:
        self._executor: ProcessPoolExecutor | None = None

    def executor(self) -> ProcessPoolExecutor:
        if self._executor is None:
            self._executor = refit_pool()
        return self._executor

    def shutdown(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)


def refit_pool() -> ProcessPoolExecutor:
    """The refits' executor: one spawned process (off the event loop and off its GIL; no forked Kafka state)."""
    return ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))


async def run_refit_in_pool(
    executor: Executor, history: list[tuple[float, float]], step: float, **options
) -> RefitResult | None:
    """``refit(history, step, **options)`` in ``executor``; the result comes back pickled (None: too little)."""
    return await asyncio.get_running_loop().run_in_executor(executor, partial(refit, history, step, **options))


async def refit_league(executor: Executor, league: str, model: LeagueForecaster, **options) -> RefitResult | None:
    """Refit ``model``'s history snapshot in ``executor``; swap the result in if it beats the online models.

    Returns the result (adopted or not), or None if there was nothing to refit or the fit failed (the online
    models keep running). The model keeps learning while the fit runs; ``swap_in`` catches the result up.
    """
    if model.step is None:
        return None
    history = list(model.history)
    try:
        result = await run_refit_in_pool(executor, history, model.step, **options)
    except Exception as exc:  # a failed fit keeps the online models
        log.warning("%s: refit failed: %s", league, exc)
        return None
    if result is None:
        return None
    scores = ", ".join(f"{name} {mae:.4g}" for name, mae in result.candidates.items())
    same = model.compare_holdout(result.holdout) if result.holdout else None  # online MAE on the same samples
    scores += f"; online {same[1]:.4g} on the same samples" if same else "; online: too few of the same samples"
    if model.swap_in(result.model, result.holdout_mae, result.last_t, result.holdout):
        log.info("%s: refitted %s swapped in (held-out MAE: %s)", league, result.model.name, scores)
    else:
        log.info("%s: refit kept out, online models are better (held-out MAE: %s)", league, scores)
    return result


SNAPSHOT_VERSION = 2  # 2: forecasters on the samples' real step (30 s), refits compared on the same samples


def _load(path: Path) -> dict[str, LeagueForecaster]:
    """Forecasters of the last snapshot this worker wrote (empty if none, unreadable or of another version)."""
    try:
        with open(path, "rb") as fh:
            loaded = pickle.load(fh)  # our own file in our data dir
    except FileNotFoundError:
        return {}
    except Exception as exc:  # unreadable: start afresh
        log.warning("ignoring forecaster snapshot %s: %s", path, exc)
        return {}
    if not isinstance(loaded, dict) or loaded.get("version") != SNAPSHOT_VERSION:
        log.warning("ignoring forecaster snapshot %s: not version %d; forecasters start afresh", path, SNAPSHOT_VERSION)
        return {}
    return loaded["forecasters"]


def _save(path: Path, forecasters: dict[str, LeagueForecaster]) -> None:
    if not forecasters:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as fh:
        pickle.dump({"version": SNAPSHOT_VERSION, "forecasters": forecasters}, fh, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, path)
