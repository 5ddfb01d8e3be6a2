"""The scaling agent: league inputs -> forecasts -> policy -> ``scaling-commands``, ``load-forecasts``, ``scaling-state``.

``system-metrics`` (keyed by server), ``league-events`` and ``scaling-overrides`` are re-keyed into
``scaling-feed``, whose one partition holds everything of every league in order: one worker decides for all
leagues, so the ``max_total_agents`` limit counts every league's pool. Per league the
``scaling`` table holds the ScalingState (policy state + the open metrics interval); the online
forecasters live in memory, are snapshotted to ``data_dir`` every minute (and reloaded at start, so a
restart does not forget the seasons), and are refitted with statsmodels (ETS and ARIMA candidates) every
``scaling_refit_seconds`` in a separate process (off the event loop and off its GIL).
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import pickle
import time
from concurrent.futures import Executor, ProcessPoolExecutor
from functools import partial
from pathlib import Path

import faust

from streams.exceptions import InvalidRecord
from streams.health.system_metrics import validate_metrics
from streams.runtime.agent_context import AgentContext
from streams.scaling.forecasting.ensemble import LeagueForecaster, build_model
from streams.scaling.forecasting.records import forecast_record
from streams.scaling.forecasting.refit import RefitResult, refit
from streams.scaling.league_profiles import load_profiles, scaling_sensitivity
from streams.scaling.policy import PolicyConfig, add_league_event, add_override, decide, validate_scaling_input
from streams.scaling.state import add_metrics, from_record, new_league_state, to_record
from streams.topics import topic

log = logging.getLogger(__name__)
INPUTS = ("system-metrics", "league-events", "scaling-overrides")


def install(app: faust.App, ctx: AgentContext) -> None:
    settings = ctx.settings
    feed_spec = topic("scaling-feed")
    feed = ctx.topic("scaling-feed")
    table = ctx.table("scaling", "ScalingState", source_topic="scaling-feed", help_text="Scaling state per league.")
    config = PolicyConfig.from_settings(settings)
    profiles = load_profiles(settings.scaling_profiles)
    models = tuple(m.strip() for m in settings.scaling_models.split(",") if m.strip())
    for name in models:
        build_model(name, 300.0)  # a bad WIREREPORT_SCALING_MODELS fails the worker at start, not on a sample
    bucket = settings.metrics_interval_seconds
    snapshot = Path(settings.data_dir) / "scaling-forecasters.pickle"
    forecasters: dict[str, LeagueForecaster] = _load(snapshot)

    def forecaster(league: str) -> LeagueForecaster:
        if league not in forecasters:
            quantile = settings.scaling_headroom_quantile
            if quantile is None:
                quantile = scaling_sensitivity(profiles, league)
            forecasters[league] = LeagueForecaster(models=models, headroom_quantile=quantile)
        return forecasters[league]

    for name in INPUTS:
        spec = topic(name)

        async def route(stream: faust.StreamT, spec=spec) -> None:
            async for events in stream.take_events(settings.worker_batch_size, settings.worker_batch_seconds):
                for event in events:
                    # scaling-overrides is read here only; the other inputs' dead letters come from their main readers
                    # (the health agent validates system-metrics the same way, and reports a bad sample once)
                    check = validate_metrics if spec.name == "system-metrics" else None
                    decoded = await ctx.decode(event, spec, check, report=spec.name == "scaling-overrides")
                    if decoded is None:
                        continue
                    try:  # events and overrides are checked only here: a bad one is reported here
                        validate_scaling_input(*decoded)
                    except InvalidRecord as exc:
                        await ctx.dead_letter(event, str(exc))
                        continue
                    league = decoded[1]["league"]
                    await feed.send(
                        key=league.encode(),
                        value=event.value,
                        partition=feed_spec.partition_of({"league": league}),
                        force=True,
                    )

        app.agent(ctx.topic(name), name=f"scaling-route-{name}")(route)

    def step(state: dict, closed: dict, others: int) -> tuple[dict, dict | None, dict]:
        league = state["league"]
        model = forecaster(league)
        model.learn_one(closed["t"], closed["workload"])
        horizon = model.step or bucket
        target = closed["t"] + horizon
        forecast = model.forecast(horizon)
        state, command = decide(
            state,
            closed["t"],
            closed["workload"],
            forecast,
            config,
            headroom=model.headroom(forecast, target),
            cpu_percent=closed["cpu_percent"],
            memory_percent=closed["memory_percent"],
            target_t=target,
            profile=profiles.get(league),
            other_agents=others,
            upcoming=lambda: model.forecast(2 * horizon),
            active_agents=closed.get("active_agents"),
        )
        state = {**state, "active_agents": closed.get("active_agents", 0)}
        return state, command, forecast_record(league, model, closed["t"], closed["workload"], horizon)

    @app.agent(feed, name="scaling")
    async def scale(stream: faust.StreamT) -> None:
        async for events in stream.take_events(settings.worker_batch_size, settings.worker_batch_seconds):
            changed: dict[str, dict] = {}
            commands: list[dict] = []
            forecasts: dict[str, dict] = {}
            for event in events:
                decoded = await ctx.decode(event, feed_spec)
                if decoded is None:
                    continue
                name, record = decoded
                league = record["league"]
                if league in changed:
                    state = changed[league]
                else:
                    stored = table.get(league)
                    state = from_record(stored) if stored else new_league_state(league, config.min_agents)
                if name == "SystemMetrics":
                    state, intervals = add_metrics(state, record, bucket, received_at=time.time())
                    for closed in intervals:
                        # other leagues hold what they decided, or more while their workers still run
                        others = sum(
                            max(r["agents"], r.get("active_agents", 0)) for k, r in table.data.items() if k != league
                        )
                        state, command, forecasts[league] = step(state, closed, others)
                        if command is not None:
                            commands.append(command)
                elif name == "ScalingOverride":
                    state = add_override(state, record)
                else:
                    state = add_league_event(state, record, profiles.get(league))
                changed[league] = state
            now = time.time()
            for league, state in changed.items():
                record = to_record(state, now, config.forecast_only)
                table.data[league] = record
                table.send_changelog(feed_spec.partition_of({"league": league}), league, record)
                await ctx.send("scaling-state", record)
            for record in forecasts.values():
                await ctx.send("load-forecasts", record)
            for command in commands:
                await ctx.send("scaling-commands", command)

    @app.timer(interval=60.0)
    async def save_forecasters() -> None:
        if forecasters:
            _save(snapshot, forecasters)

    @app.on_before_shutdown.connect
    async def save_at_shutdown(app, **kwargs) -> None:
        if forecasters:
            _save(snapshot, forecasters)

    if settings.scaling_refit_seconds > 0:
        pool: list[ProcessPoolExecutor] = []  # one worker process, started at the first refit

        @app.timer(interval=settings.scaling_refit_seconds)
        async def refit_models() -> None:
            if not pool:
                pool.append(refit_pool())
            for league, model in list(forecasters.items()):
                await refit_league(pool[0], league, model)

        @app.on_before_shutdown.connect
        async def stop_refits(app, **kwargs) -> None:
            if pool:
                pool[0].shutdown(wait=False, cancel_futures=True)


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
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as fh:
        pickle.dump({"version": SNAPSHOT_VERSION, "forecasters": forecasters}, fh, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, path)
