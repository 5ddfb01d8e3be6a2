"""Every long-running command takes ``--metrics-port`` (default: the setting, WIREREPORT_METRICS_PORT)."""

from __future__ import annotations

import pytest

from connectors.cli.main import build_parser
from connectors.observability.cli_options import metrics_port

LONG_RUNNING = [
    ["worker"],
    ["publisher"],
    ["scaler"],
    ["alert-router"],
    ["agent", "--server-id", "s1", "--league", "NFL"],
    ["supervisor", "--server-id", "s1"],
    ["deploy-agent", "--server-id", "s1", "--repo", "."],
    ["deploy", "manager"],
    ["feed", "nfl", "--url-template", "http://feed/{game_id}.json"],
    ["feed", "nba", "--url-template", "http://feed/{game_id}.json"],
    ["broker"],
]


class Settings:
    metrics_port = 9100


@pytest.mark.parametrize("command", LONG_RUNNING, ids=lambda c: " ".join(c[:2]))
def test_the_flag_wins_over_the_setting_and_the_setting_is_the_default(command):
    parser = build_parser()
    assert metrics_port(parser.parse_args([*command, "--metrics-port", "9200"]), Settings()) == 9200
    assert metrics_port(parser.parse_args(command), Settings()) == 9100
