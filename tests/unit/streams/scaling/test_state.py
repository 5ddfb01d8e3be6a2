"""A league's scaling state: metrics intervals, redeliveries, and the state's JSON and Avro forms."""

from __future__ import annotations

import json

from schemas.codec import Codec, get_codec
from schemas.registry import SchemaRegistry
from streams.scaling.state import (
    COUNTED_MEMORY_INTERVALS,
    add_metrics,
    from_record,
    interval_key,
    new_league_state,
    to_record,
)

T0 = 1_767_254_400.0  # 2026-01-01 08:00 UTC


def _sample(sid, dt, workload=1.0, **more):
    sample = {"server_id": sid, "observed_at": T0 + dt, "workload": workload, "cpu_percent": dt % 100}
    return {**sample, "memory_percent": 1, **more}


def _metrics(state, sid, dt, workload=1.0, **more):
    return add_metrics(state, _sample(sid, dt, workload, **more), 30)


def test_league_interval_sums_servers_once_every_live_server_is_past_it():
    state = new_league_state("NBA", 1)
    closed = []
    for sid, dt, w in [("a", 0, 1.0), ("b", 5, 2.0), ("a", 10, 3.0), ("b", 31, 4.0), ("a", 12, 9.0), ("a", 65, 1.0)]:
        state, c = _metrics(state, sid, dt, w)
        closed.append(c)
    assert closed[:5] == [[]] * 5  # b moved on at 31, but a had not: a's sample at 12 still counts
    assert closed[5] == [
        {
            "t": T0,
            "workload": (1.0 + 3.0 + 9.0) / 3 + 2.0,  # each server's mean, summed
            "cpu_percent": 12,
            "memory_percent": 1,
            "servers": 2,
            "active_agents": 0,  # nobody counted workers
        }
    ]  # the interval at 30 waits for b
    state, c = _metrics(state, "b", 61, 5.0)
    assert [i["t"] for i in c] == [T0 + 30] and c[0]["workload"] == 4.0 and state["late_samples"] == 0
    state, c = _metrics(state, "c", 20, 7.0)  # a server first heard of with a sample of a closed interval
    assert c == [] and state["late_samples"] == 1  # counted, not summed
    assert state["open_buckets"] == {
        interval_key(T0 + 60): {"a": (1.0, 1, 65, 1, 0, None), "b": (5.0, 1, 61, 1, 0, None)}
    }


def test_a_backlog_drained_after_an_outage_counts_in_its_intervals():
    state = new_league_state("NBA", 1)
    for sid in ("a", "b"):
        state, _ = _metrics(state, sid, 0)
    intervals = []
    for dt in range(30, 150, 30):  # a drains four intervals of backlog first, then b does
        state, c = _metrics(state, "a", dt)
        intervals += c
    assert intervals == []  # every interval since 0 waits for b
    for dt in range(30, 150, 30):
        state, c = _metrics(state, "b", dt)
        intervals += c
    assert [i["t"] - T0 for i in intervals] == [0, 30, 60, 90]
    assert all(i["workload"] == 2.0 and i["servers"] == 2 for i in intervals) and state["late_samples"] == 0


def test_a_silent_server_stops_holding_intervals_open():
    state = new_league_state("NBA", 1)
    for sid in ("a", "b"):
        state, _ = _metrics(state, sid, 0)
    closed = []
    for dt in range(30, 240, 30):  # b went down after its first sample
        state, c = _metrics(state, "a", dt)
        closed += c
    # b is live while a is at most 4 intervals ahead: then the waiting intervals close with a alone
    assert [i["t"] - T0 for i in closed] == [0, 30, 60, 90, 120, 150, 180]
    assert [i["servers"] for i in closed] == [2, 1, 1, 1, 1, 1, 1] and set(state["server_last"]) == {"a"}


def test_a_server_reporting_every_five_minutes_is_live_for_four_of_its_intervals():
    state = new_league_state("NBA", 1)
    for sid in ("a", "b"):
        state, _ = _metrics(state, sid, 0, interval_seconds=300.0)
    state, closed = _metrics(state, "a", 900, interval_seconds=300.0)  # 30 intervals of 30 s later
    assert closed == [] and set(state["server_last"]) == {"a", "b"}  # b is 3 of its intervals behind: live
    state, closed = _metrics(state, "a", 1500, interval_seconds=300.0)
    assert [i["t"] - T0 for i in closed] == [0, 900] and set(state["server_last"]) == {"a"}


def test_a_server_that_is_still_sending_holds_its_intervals_open_in_a_fast_replay():
    state = new_league_state("NBA", 1)
    for sid in ("a", "b"):
        state, _ = add_metrics(state, _sample(sid, 0), 30, received_at=1000.0)
    for dt in range(30, 600, 30):  # a replays 19 intervals within a second of b's last sample
        state, closed = add_metrics(state, _sample("a", dt), 30, received_at=1000.5)
        assert closed == []
    state, closed = add_metrics(state, _sample("b", 30), 30, received_at=1001.0)
    assert [i["servers"] for i in closed] == [2]
    state, closed = add_metrics(state, _sample("a", 600), 30, received_at=1200.0)  # b silent for 3+ minutes
    assert len(closed) == 19 and set(state["server_last"]) == {"a"}


def test_open_intervals_survive_the_avro_record():
    state = new_league_state("NBA", 1)
    for sid, dt in [("a", 0), ("b", 3), ("a", 31), ("a", 62)]:
        state, _ = _metrics(state, sid, dt, active_agents=2, host="h1")
    assert sorted(map(float, state["open_buckets"])) == [T0, T0 + 30, T0 + 60]
    assert state["last_counted"] == {"a": T0 + 62, "b": T0 + 3}
    codec = get_codec()
    _, decoded = codec.decode(codec.encode("ScalingState", to_record(state, T0, False)))
    assert from_record(decoded) == {**state, "overrides": {}}


def test_running_workers_are_counted_once_per_host():
    state = new_league_state("NBA", 1)
    reports = [("a", "h1", 3, 0), ("b", "h1", 3, 0), ("c", "h2", 2, 0), ("a", "h1", 4, 10), ("d", None, 1, 0)]
    for sid, host, active, dt in reports:  # servers a and b share host h1: they see the same worker processes
        state, _ = add_metrics(
            state,
            {
                "server_id": sid,
                "observed_at": T0 + dt,
                "workload": 1.0,
                "cpu_percent": 1,
                "memory_percent": 1,
                "active_agents": active,
                "host": host,
            },
            30,
        )
    for sid in ("b", "c", "a"):
        state, closed = add_metrics(
            state,
            {"server_id": sid, "observed_at": T0 + 30, "workload": 1.0, "cpu_percent": 1, "memory_percent": 1},
            30,
        )
    state, closed = add_metrics(
        state, {"server_id": "d", "observed_at": T0 + 30, "workload": 1.0, "cpu_percent": 1, "memory_percent": 1}, 30
    )
    assert closed[0]["active_agents"] == 4 + 2 + 1  # h1's latest count (a: 4), h2's, and d (no host: on its own)
    codec = get_codec()
    record = to_record({**state, "active_agents": 7}, T0, False)
    _, decoded = codec.decode(codec.encode("ScalingState", record))
    assert decoded["active_agents"] == 7 and from_record(decoded)["open_buckets"] == state["open_buckets"]


def test_a_v1_record_restores_its_open_interval_and_what_was_closed_before_it():
    state = new_league_state("NBA", 1)
    state, _ = _metrics(state, "a", 31)
    record = to_record(state, T0, False)
    v1 = {k: v for k, v in record.items() if k not in ("closed_through", "server_last_seen")}
    v1["bucket_servers"] = [{k: v for k, v in b.items() if k != "bucket_start"} for b in record["bucket_servers"]]
    restored = from_record(v1)
    assert restored["open_buckets"] == state["open_buckets"] and restored["closed_through"] == T0 + 29.0
    again, closed = add_metrics(restored, _sample("b", 5), 30)  # an interval before the v1 one: late
    assert closed == [] and again["late_samples"] == 1


def _json(value):
    return json.loads(json.dumps(value))


def _avro_round_trip(state):
    codec = get_codec()
    _, decoded = codec.decode(codec.encode("ScalingState", to_record(state, T0, False)))
    return from_record(decoded)


def _two_servers_mid_interval(received_at=None):
    """Servers a and b: the interval at 0 closed, the one at 30 open with a sample of each."""
    state = new_league_state("NBA", 1)
    for sid, dt, w in [("a", 0, 1.0), ("b", 1, 2.0), ("a", 30, 3.0), ("b", 31, 4.0)]:
        state, _ = add_metrics(state, _sample(sid, dt, w), 30, received_at=received_at)
    return state


def test_a_redelivered_sample_of_an_open_interval_changes_nothing():
    state = _two_servers_mid_interval()
    assert state["closed_through"] == T0 and interval_key(T0 + 30) in state["open_buckets"]
    for sid, dt, w in [("b", 31, 4.0), ("a", 30, 3.0), ("b", 1, 2.0)]:  # b's newest, then older ones
        again, closed = _metrics(state, sid, dt, w)
        assert again == state and closed == []
    state, closed = _metrics(state, "a", 60, 5.0)
    state, closed = _metrics(state, "b", 61, 6.0)
    assert [(i["t"], i["workload"], i["servers"]) for i in closed] == [(T0 + 30, 3.0 + 4.0, 2)]


def test_a_redelivery_does_not_make_a_silent_server_live_again():
    state = _two_servers_mid_interval(received_at=1000.0)
    state, _ = add_metrics(state, _sample("a", 60), 30, received_at=1010.0)
    assert state["server_last"]["b"][2] == 1000.0  # b last heard from at 1000
    again, closed = add_metrics(state, _sample("b", 31, 4.0), 30, received_at=1011.0)  # after a worker restart
    assert again == state and closed == []


def test_a_redelivered_sample_of_a_closed_interval_changes_nothing():
    state = _two_servers_mid_interval()
    again, closed = _metrics(state, "a", 0, 1.0)  # its interval at 0 is closed
    assert again == state and closed == [] and again["late_samples"] == 0


def test_a_late_but_new_sample_still_counts_as_late_once():
    state = new_league_state("NBA", 1)
    for sid in ("a", "b"):
        state, _ = _metrics(state, sid, 0)
    for dt in range(30, 240, 30):  # b goes silent: a alone closes the intervals up to 180
        state, _ = _metrics(state, "a", dt)
    assert state["closed_through"] == T0 + 180 and set(state["server_last"]) == {"a"}
    for dt in (30, 60):  # b's outage backlog, sent in order: new samples of closed intervals
        state, closed = _metrics(state, "b", dt)
        assert closed == []
    assert state["late_samples"] == 2
    again, _ = _metrics(state, "b", 60)  # redelivered
    assert again == state
    state, closed = _metrics(state, "b", 215, 2.0)  # b is back in the open interval at 210
    state, closed = _metrics(state, "a", 240)
    state, closed = _metrics(state, "b", 245)
    assert [(i["t"], i["workload"], i["servers"]) for i in closed] == [(T0 + 210, 1.0 + 2.0, 2)]


def test_a_redelivery_after_a_restore_from_the_avro_record_changes_nothing():
    state = _two_servers_mid_interval()
    restored = _avro_round_trip(state)
    assert restored == {**state, "overrides": {}}
    for sid, dt in [("b", 31), ("a", 0)]:  # open and closed intervals
        again, closed = _metrics(restored, sid, dt)
        assert again == restored and closed == []


def test_a_json_round_trip_mid_interval_gives_identical_decisions_afterwards():
    state = _two_servers_mid_interval()
    restored = _json(state)
    assert list(restored["open_buckets"]) == [interval_key(T0 + 30)]
    later = [("a", 45, 7.0), ("b", 46, 8.0), ("c", 50, 1.0), ("a", 61, 9.0), ("b", 62, 1.0), ("c", 63, 2.0)]
    for sid, dt, w in later:
        state, closed = _metrics(state, sid, dt, w)
        restored, closed_after_json = _metrics(restored, sid, dt, w)
        assert closed_after_json == closed
        assert _json(restored) == _json(state)
        restored = _json(restored)
    assert closed == [
        {
            "t": T0 + 30,
            "workload": (3.0 + 7.0) / 2 + (4.0 + 8.0) / 2 + 1.0,
            "cpu_percent": 50,
            "memory_percent": 1,
            "servers": 3,
            "active_agents": 0,
        }
    ]
    assert to_record(restored, T0) == to_record(state, T0)


def test_an_interval_key_reads_back_as_the_start_it_was_made_from():
    for start in (T0, T0 + 0.5, 1_536_512_400.123, 0.0):
        key = interval_key(start)
        assert float(key) == start and _json({key: 1}) == {key: 1}


def test_a_v2_record_restores_without_the_redelivery_memory():
    state = _two_servers_mid_interval()
    full = SchemaRegistry.load()
    v2 = next(v for v in full.versions("ScalingState") if v.version == 2)
    older = SchemaRegistry([*(v for name in full.names() if name != "ScalingState" for v in full.versions(name)), v2])
    record = {k: v for k, v in to_record(state, T0, False).items() if k != "server_last_counted"}
    data = Codec(older).encode("ScalingState", record)
    assert get_codec().writer_of(data).version == 2
    _, decoded = get_codec().decode(data)
    restored = from_record(decoded)
    assert restored == {**state, "overrides": {}, "last_counted": {}}
    restored, closed = _metrics(restored, "a", 60, 5.0)  # it goes on from there, and remembers again
    restored, closed = _metrics(restored, "b", 61, 6.0)
    assert [(i["t"], i["workload"]) for i in closed] == [(T0 + 30, 3.0 + 4.0)]
    assert restored["last_counted"] == {"a": T0 + 60, "b": T0 + 61}


def test_a_silent_server_is_forgotten_once_its_last_sample_is_long_closed():
    state = new_league_state("NBA", 1)
    for sid in ("a", "b"):
        state, _ = _metrics(state, sid, 0)
    for k in range(1, COUNTED_MEMORY_INTERVALS + 1):  # b went down after its first sample
        state, _ = _metrics(state, "a", 30 * k)
    assert set(state["last_counted"]) == {"a", "b"} and set(state["server_last"]) == {"a"}
    state, _ = _metrics(state, "a", 30 * (COUNTED_MEMORY_INTERVALS + 1))
    assert state["last_counted"] == {"a": T0 + 30 * (COUNTED_MEMORY_INTERVALS + 1)}
    again, _ = _metrics(state, "b", 0)  # a redelivery this old could only be late: it is counted as one
    assert again["late_samples"] == state["late_samples"] + 1 and again["open_buckets"] == state["open_buckets"]
