"""Every generic decider check over every one of Wire Report's pure deciders, and each check catching a bad decider."""

from __future__ import annotations

import itertools
from functools import cache

import pytest

from connectors.testing import check_decider
from connectors.testing.deciders import (
    CHECKS,
    Decider,
    DeciderCheckFailed,
    builtin_deciders,
    check_command_ids_are_deterministic,
    check_input_state_is_not_changed,
    check_redelivery_changes_nothing,
    check_state_survives_json_round_trip,
    run,
)

DECIDER_NAMES = ("plays", "scaling", "health", "deployments")


@cache
def deciders() -> dict[str, Decider]:
    return {decider.name: decider for decider in builtin_deciders()}


def _cases():
    for name, check in itertools.product(DECIDER_NAMES, CHECKS):
        yield pytest.param(name, check, id=f"{name}-{check.__name__}")


@pytest.mark.parametrize(("name", "check"), _cases())
def test_every_check_over_every_decider(name, check):
    check(deciders()[name])


def test_the_builtin_deciders_are_fed_realistic_inputs_that_make_commands():
    counts = {name: (len(d.inputs()), len(run(d)[1])) for name, d in deciders().items()}
    assert counts["plays"] == (2470, 15)  # the real NFL Sunday: 15 tweets at 17 a day
    assert counts["health"] == (30, 10)  # alert transitions and remediation commands (no scale-up asked at 95% CPU)
    assert counts["deployments"][1] == 8
    assert counts["scaling"][1] > 0


def test_check_decider_runs_every_check():
    check_decider(deciders()["health"])
    with pytest.raises(DeciderCheckFailed, match="toy: input state: input 0"):  # the last check is the one it fails
        check_decider(counter(appends_in_place))


# --- each check catches the fault it is for ------------------------------------------------------------------


def counter(decide, initial=lambda: {"seen": []}, inputs=lambda: ["a", "b", "c"], command_id=None) -> Decider:
    extra = {"command_id": command_id} if command_id else {}
    return Decider("toy", initial, inputs, decide, **extra)


def dedupe(state, item):
    """A correct toy decider: one command per new input, ids from the input."""
    if item in state["seen"]:
        return state, []
    return {"seen": [*state["seen"], item]}, [{"command_id": f"cmd-{item}"}]


def appends_in_place(state, item):
    """Like ``dedupe`` but changing the state it was given."""
    if item in state["seen"]:
        return state, []
    state["seen"].append(item)
    return state, [{"command_id": item}]


def test_a_correct_decider_passes_every_check():
    check_decider(counter(dedupe))


def test_a_state_that_is_not_json_fails_the_round_trip():
    def with_a_set(state, item):
        return {"seen": {*state["seen"], item}}, []

    with pytest.raises(DeciderCheckFailed, match="toy: JSON round trip: input 0: the state is not JSON"):
        check_state_survives_json_round_trip(counter(with_a_set, initial=lambda: {"seen": set()}))


def test_a_state_that_reads_differently_after_json_fails_the_round_trip():
    def tuple_keys(state, item):  # a tuple key is written as text: the restored state no longer finds it
        key = (item, len(item))
        if key in state:
            return state, []
        return {**state, key: True}, [{"command_id": item}]

    decider = counter(tuple_keys, initial=dict, inputs=lambda: ["a", "a"])
    with pytest.raises(DeciderCheckFailed, match="toy: JSON round trip: input 0: the state is not JSON"):
        check_state_survives_json_round_trip(decider)

    def float_keys(state, item):
        buckets = {**state, float(len(item)): item}
        return buckets, [{"command_id": str(sorted(buckets))}]

    decider = counter(float_keys, initial=dict, inputs=lambda: ["a", "bb"])
    with pytest.raises(DeciderCheckFailed, match=r"toy: JSON round trip: input 1: deciding from the restored state"):
        check_state_survives_json_round_trip(decider)


def test_a_redelivery_that_commands_again_or_changes_the_state_fails():
    def no_dedupe(state, item):
        return {"seen": [*state["seen"], item]}, [{"command_id": f"cmd-{item}"}]

    with pytest.raises(
        DeciderCheckFailed, match=r"toy: redelivery: input 0: the redelivered input gave commands \['cmd-a'\]"
    ):
        check_redelivery_changes_nothing(counter(no_dedupe))

    def counts_duplicates(state, item):
        if item in state["seen"]:
            return {**state, "duplicates": state.get("duplicates", 0) + 1}, []
        return dedupe(state, item)

    with pytest.raises(DeciderCheckFailed, match=r"redelivery: input 0: .*changed the state: \['duplicates'\]"):
        check_redelivery_changes_nothing(counter(counts_duplicates))


def test_ids_that_change_between_runs_fail():
    ids = itertools.count()

    def fresh_ids(state, item):
        return dedupe(state, item)[0], [{"command_id": f"cmd-{next(ids)}"}] if item not in state["seen"] else []

    with pytest.raises(
        DeciderCheckFailed, match="deterministic ids: the runs differ: \\[0\\]: 'cmd-0' against 'cmd-3'"
    ):
        check_command_ids_are_deterministic(counter(fresh_ids))


def test_inputs_that_give_no_command_cannot_pass_the_id_check():
    with pytest.raises(DeciderCheckFailed, match="its inputs give no command to check"):
        check_command_ids_are_deterministic(counter(dedupe, inputs=lambda: []))


def test_a_decider_that_changes_the_state_it_was_given_fails():
    with pytest.raises(DeciderCheckFailed, match=r"toy: input state: input 0: decide changed the state it was given"):
        check_input_state_is_not_changed(counter(appends_in_place))
