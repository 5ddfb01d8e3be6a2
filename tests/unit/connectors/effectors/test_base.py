"""The effector base's pure parts: stored position keys (old state files stay readable), backoff, state files."""

from __future__ import annotations

import pytest

from connectors.effectors.base import positions_from_keys, positions_to_keys, retry_delay
from connectors.effectors.state_file import JsonStateFile


def test_positions_of_one_topic_keep_the_partition_only_keys_of_existing_state_files():
    stored = {"0": 12, "3": 4}  # as the supervisor and the deployment agent have always written them
    positions = positions_from_keys(stored, "remediation-commands")
    assert positions == {("remediation-commands", 0): 12, ("remediation-commands", 3): 4}
    assert positions_to_keys(positions, "remediation-commands") == stored


def test_positions_of_several_topics_are_keyed_topic_colon_partition():
    positions = {("deployment-events", 1): 7, ("game-state", 0): 2}
    stored = positions_to_keys(positions)
    assert stored == {"deployment-events:1": 7, "game-state:0": 2}
    assert positions_from_keys(stored) == positions


@pytest.mark.parametrize(("attempt", "delay"), [(1, 0.5), (2, 1.0), (3, 2.0), (4, 3.0), (40, 3.0)])
def test_retry_delay_doubles_from_the_initial_delay_up_to_the_cap(attempt, delay):
    assert retry_delay(attempt, 0.5, 3.0) == delay


def test_state_file_is_empty_until_saved_and_replaced_whole(tmp_path):
    state = JsonStateFile(tmp_path / "nested" / "state.json")
    assert not state.exists() and state.load() == {}
    state.save({"offsets": {"0": 1}, "done": ["a"]})
    state.save({"offsets": {"0": 2}})
    assert JsonStateFile(tmp_path / "nested" / "state.json").load() == {"offsets": {"0": 2}}
    assert [p.name for p in (tmp_path / "nested").iterdir()] == ["state.json"]  # no temporary file left
