"""The app installs the agents of ``streams.agents.AGENTS``, each on the one skeleton."""

from __future__ import annotations

from streams.agents import AGENTS
from streams.app import create_app
from streams.settings import Settings


def test_every_listed_agent_is_installed_with_its_tables(tmp_path):
    app = create_app(Settings(kafka_bootstrap="127.0.0.1:9", app_id="unit-agents", data_dir=tmp_path))
    assert [module.__name__.rsplit(".", 1)[1] for module in AGENTS] == ["games", "scaling", "health", "deployments"]
    assert sorted(app.agents) == [
        "deployments",
        "deployments-deployment-events-in",
        "deployments-game-state-in",
        "deployments-system-metrics-in",
        "games",
        "games-flags",
        "games-route-flags",
        "health",
        "scaling",
        "scaling-route-feature-flags",
        "scaling-route-league-events",
        "scaling-route-scaling-overrides",
        "scaling-route-system-metrics",
        "schedule",
    ]
    assert sorted(app.wirereport.tables) == [
        "account_decisions",
        "deployments",
        "games",
        "health",
        "scaling",
        "scaling-flags",
        "schedule",
        "tweet_flags",
    ]


def test_no_agent_without_install_agents(tmp_path):
    app = create_app(
        Settings(kafka_bootstrap="127.0.0.1:9", app_id="unit-none", data_dir=tmp_path), install_agents=False
    )
    assert not app.agents
