"""Runs the Faust app in a worker process, announces when it is ready, and serves its metrics and probes.

Ready means partitions assigned and tables recovered: after ``on_startup_finished``, and again after each
rebalance once recovery completed (``on_rebalance_complete``); from ``on_partitions_revoked`` until then the
worker is not ready (``/ready`` answers 503 "rebalancing"). When the app notices the broker lost data (a
changelog that reports records it never delivers) ``/ready`` says so until the recovery completed.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable

import faust

from connectors.local.broker_watch import watch_broker_positions
from connectors.observability.metrics_server import Readiness, serve_metrics
from connectors.observability.tracing import configure_tracing
from streams.app import create_app
from streams.runtime.log_limits import RepeatedErrorLimiter
from streams.settings import Settings

log = logging.getLogger(__name__)


class ReadyWorker(faust.Worker):
    """A Faust worker that prints one ready line once partitions are assigned and tables recovered."""

    def __init__(self, *args, readiness: Readiness | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.readiness = readiness or Readiness()
        self.startup_finished = False
        self.when_started: list[Callable[[], None]] = []

    async def on_startup_finished(self) -> None:
        await super().on_startup_finished()
        # Everything built so far (Faust's services, our models and tables' code) lives as long as the worker: move
        # it out of the collector's reach, so a full collection scans only what the agents allocate since (a full
        # collection over the whole heap paused the event loop for 60-100 ms, the latency p99's outliers).
        gc.collect()
        gc.freeze()
        self.startup_finished = True
        for started in self.when_started:
            started()
        self.readiness.set_ready()
        print(f"worker ready: agents running on {self.app.conf.broker[0]}", flush=True)


def watch_rebalances(app: faust.App, worker: ReadyWorker) -> None:
    """Not ready from a revocation until the rebalance's recovery completed (only once the worker started)."""

    @app.on_partitions_revoked.connect
    async def _revoked(sender, revoked, **kwargs) -> None:
        if worker.startup_finished:
            worker.readiness.set_not_ready("rebalancing")

    @app.on_rebalance_complete.connect
    async def _recovered(sender, **kwargs) -> None:
        if worker.startup_finished:
            worker.readiness.set_ready()


def watch_broker_loss(app: faust.App, readiness: Readiness) -> None:
    """Not ready, with the reason, from the moment the app notices the broker lost data until it is ready again."""
    callbacks = getattr(app, "on_broker_lost", None)
    if callbacks is not None:
        callbacks.append(lambda reason: readiness.set_not_ready(f"broker lost data: {reason}"))


def run_worker(settings: Settings, loglevel: str = "INFO", metrics_port: int = 0) -> int:
    (settings.data_dir / "faust").mkdir(parents=True, exist_ok=True)
    app = create_app(settings)
    metrics, readiness, server = serve_metrics("worker", metrics_port, settings.metrics_host)
    watch_broker_loss(app, readiness)
    positions_check = watch_broker_positions(app, settings.bootstrap)
    tracing = configure_tracing("worker", settings.tracing, settings.otlp_endpoint)
    if tracing.enabled:  # a span per record, continued from the record's headers into its outputs' headers
        app.wirereport.tracer = tracing
    if server is not None:
        from connectors.observability.faust_sensor import MetricsSensor

        sensor = MetricsSensor(metrics)
        app.sensors.add(sensor)
        metrics.on_scrape(sensor.refresh_lag)

        @app.on_partitions_revoked.connect
        async def _forget(sender, revoked, **kwargs) -> None:
            sensor.forget(revoked)

        from connectors.observability.worker_outputs import WorkerOutputs

        app.wirereport.observer = WorkerOutputs(metrics)

    # override_logging=False: the process's logging (redaction, text or JSON) stays; Faust would replace it
    worker = ReadyWorker(
        app,
        loglevel=loglevel.lower(),
        quiet=True,
        redirect_stdouts=False,
        override_logging=False,
        readiness=readiness,
    )
    logging.getLogger().setLevel(loglevel.upper())
    limiter = RepeatedErrorLimiter()  # a broker outage must not flood the log
    for handler in logging.getLogger().handlers:
        handler.addFilter(limiter)
    watch_rebalances(app, worker)
    if server is not None:
        worker.when_started.append(lambda: setattr(sensor, "consumer", app.consumer))
    worker.spinner = None  # no terminal spinner: our output is read line by line
    try:
        worker.execute_from_commandline()
    finally:
        positions_check.close()
        if server is not None:
            server.stop()
        tracing.shutdown()
    return 0
