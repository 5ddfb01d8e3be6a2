"""Recovery of a changelog the broker lost: a partition that reports records and delivers none for
``stall_seconds`` ends its recovery (said once, the app told why); one that delivers is never cut short."""

from __future__ import annotations

import pytest
from faust.types import TP

from streams.app import create_app
from streams.runtime.changelog_catchup import LossTolerantRecovery, StateMark
from streams.settings import Settings

LOST = TP("wirereport-games-changelog", 0)
ALIVE = TP("wirereport-schedule-changelog", 0)


@pytest.fixture
def recovery(tmp_path):
    app = create_app(Settings(data_dir=tmp_path), install_agents=False)
    told: list[str] = []
    app.on_broker_lost.append(told.append)
    recovery = app.tables.recovery
    assert isinstance(recovery, LossTolerantRecovery)
    # the broker reports one record on each partition (high watermark 1: Faust's highwater 0), none read yet
    for tp in (LOST, ALIVE):
        recovery.active_highwaters[tp] = 0
        recovery.active_offsets[tp] = -1
    recovery.in_recovery = True
    recovery._recovery_started_at = 100.0
    recovery.told = told
    return recovery


def test_a_partition_that_delivers_nothing_ends_its_recovery_after_the_stall(recovery):
    recovery._active_events_received_at[ALIVE] = 110.0  # still delivering

    assert recovery.give_up_stalled(now=100.0 + recovery.stall_seconds - 1) == []
    assert recovery.give_up_stalled(now=100.0 + recovery.stall_seconds) == [LOST]

    assert recovery.lost == {LOST: 1}
    assert recovery.active_remaining()[LOST] == 0
    assert recovery.active_remaining()[ALIVE] == 1  # a partition that delivers is waited for
    assert len(recovery.told) == 1 and "wirereport-games-changelog[0] reports 1 record(s)" in recovery.told[0]


def test_need_recovery_ends_once_every_stalled_partition_was_given_up(recovery, monkeypatch):
    monkeypatch.setattr("streams.runtime.changelog_catchup.time.monotonic", lambda: 100.0 + recovery.stall_seconds)
    assert recovery.need_recovery() is False
    assert set(recovery.lost) == {LOST, ALIVE}


def test_nothing_is_given_up_outside_a_recovery(recovery, monkeypatch):
    recovery.in_recovery = False
    monkeypatch.setattr("streams.runtime.changelog_catchup.time.monotonic", lambda: 1e9)
    assert recovery.need_recovery() is True
    assert recovery.lost == {}


def test_a_table_that_held_state_and_recovers_nothing_was_lost(tmp_path):
    mark = StateMark(tmp_path / "tables" / "games.json")
    assert mark.lost([0, 1], applied=0) == []  # never held state: a first start

    mark.note([1, 2])

    assert mark.lost([0, 1, 2], applied=0) == [1, 2]
    assert mark.lost([0, 1, 2], applied=5) == []  # the changelog gave records back
    assert mark.lost([0], applied=0) == []  # not a partition it held
