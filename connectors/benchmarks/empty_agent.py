"""The Faust ceiling on this machine: an agent that only counts batches of ``plays``.

Run as ``python -m connectors.benchmarks.empty_agent BOOTSTRAP COUNT [batches|take_events]``; prints
``events/s: N`` and exits once it has seen COUNT events. Same app class, transport and settings as the real worker,
no work per event. ``batches`` (default) reads batches the way the games agent does (``AgentContext.batches``);
``take_events`` uses Faust's stock ``Stream.take_events`` (every event through the Stream machinery).
"""

from __future__ import annotations

import os
import sys
import time


def main(bootstrap: str, count: int, mode: str = "batches") -> None:
    import faust

    from streams.app import create_app
    from streams.settings import Settings

    settings = Settings(
        kafka_bootstrap=bootstrap, app_id=f"bench-empty-{time.time_ns()}", data_dir="/tmp/wirereport-bench"
    )
    app = create_app(settings, install_agents=False)
    plays = app.wirereport.topic("plays")
    seen = {"n": 0, "t0": 0.0}

    @app.agent(plays, name="count")
    async def count_events(stream: faust.StreamT) -> None:
        if mode == "take_events":
            batches = stream.take_events(settings.worker_batch_size, settings.worker_batch_seconds)
        else:
            batches = app.wirereport.batches(stream, settings.worker_batch_size)
        async for events in batches:
            if not seen["n"]:
                seen["t0"] = time.perf_counter()
            seen["n"] += len(events)
            if seen["n"] >= count:
                print(f"events/s: {seen['n'] / (time.perf_counter() - seen['t0']):.0f}", flush=True)
                os._exit(0)

    (settings.data_dir / "faust").mkdir(parents=True, exist_ok=True)
    worker = faust.Worker(app, loglevel="warning", quiet=True, redirect_stdouts=False)
    worker.spinner = None
    worker.execute_from_commandline()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), *sys.argv[3:4])
