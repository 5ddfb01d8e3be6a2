"""The one Faust app. ``create_app()`` builds it (no import-time side effects) and installs every agent
module of ``streams.agents.AGENTS`` (each exposes ``install(app, ctx)``).
"""

from __future__ import annotations

import faust

from streams.agents import AGENTS
from streams.runtime.agent_context import AgentContext
from streams.runtime.kafka_security import faust_credentials
from streams.runtime.kafka_transport import WireReportApp
from streams.settings import Settings, get_settings


def create_app(settings: Settings | None = None, install_agents: bool = True) -> faust.App:
    """Build the Faust app from settings and install all agents (``install_agents=False``: none, for benchmarks)."""
    settings = settings or get_settings()
    app = WireReportApp(
        settings.app_id,
        broker=f"kafka://{settings.bootstrap}",
        broker_credentials=faust_credentials(settings),
        store="memory://",
        datadir=str(settings.data_dir / "faust"),
        autodiscover=False,
        web_enabled=False,
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=settings.replication_factor,
        topic_allow_declare=True,
        topic_disable_leader=True,
        table_standby_replicas=0,
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=settings.broker_session_timeout,
        broker_heartbeat_interval=max(0.5, settings.broker_session_timeout / 4),
        broker_commit_every=10 * settings.worker_batch_size,
        broker_commit_interval=1.0,
        broker_max_poll_records=10_000,
        consumer_max_fetch_size=8 * 1024 * 1024,
        stream_buffer_maxsize=32_768,
        stream_wait_empty=False,
        processing_guarantee="at_least_once",
        producer_linger=0.0,  # send at once; outputs queued while a request is in flight batch by themselves
        producer_max_batch_size=256 * 1024,
        producer_acks=-1,
    )
    ctx = AgentContext(app, settings)
    app.wirereport = ctx  # type: ignore[attr-defined]
    for agent in AGENTS if install_agents else ():
        agent.install(app, ctx)
    return app
