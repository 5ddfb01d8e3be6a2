"""Shared fixtures: a real embedded broker per test session (topics created), markers by folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from connectors.testing import running_broker

TESTS = Path(__file__).parent


def pytest_collection_modifyitems(items):
    for item in items:
        tier = Path(item.fspath).relative_to(TESTS).parts[0]
        if tier in ("unit", "integration", "e2e", "browser"):
            item.add_marker(getattr(pytest.mark, tier))
    # the browser tests start a whole stack and a Chromium: they run last, after everything they rely on passed
    items.sort(key=lambda item: Path(item.fspath).relative_to(TESTS).parts[0] == "browser")


@pytest.fixture(scope="session")
def broker() -> str:
    """Bootstrap address of a real embedded broker shared by the session, with every topic created."""
    with running_broker() as bootstrap:
        yield bootstrap


@pytest.fixture
def settings_env(monkeypatch, tmp_path, broker):
    """Point settings at the session broker and a temporary data dir."""
    from streams.settings import get_settings

    monkeypatch.setenv("WIREREPORT_KAFKA_BOOTSTRAP", broker)
    monkeypatch.setenv("WIREREPORT_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch):
    """No test sees a developer's WIREREPORT_* environment."""
    for name in list(os.environ):
        if name.startswith("WIREREPORT_"):
            monkeypatch.delenv(name)
