from __future__ import annotations

import pytest

from tests.unit.api.test_app import make_app
from tests.unit.api.test_league_isolation import RecordingSender


@pytest.fixture
def app():
    """The API with the console, its read model fed directly by the tests, and Kafka replaced by a recorder."""
    app = make_app(api_rate_per_second=10_000, api_rate_burst=10_000)
    app.state.wirereport.sender = RecordingSender()
    return app
