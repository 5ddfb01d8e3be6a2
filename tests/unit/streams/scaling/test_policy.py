"""Each rule of the scaling policy, with an injected clock (times are plain epoch seconds)."""

from __future__ import annotations

import itertools
import json
import math
from datetime import UTC, datetime

import pytest

from schemas.codec import get_codec
from streams.exceptions import InvalidRecord
from streams.scaling.league_profiles import LeagueProfile, load_profiles
from streams.scaling.policy import (
    PolicyConfig,
    add_league_event,
    add_override,
    command_id,
    decide,
    new_state,
)
from streams.scaling.state import add_metrics, from_record, new_league_state, to_record
from streams.scaling.validation import validate_scaling_input

T0 = 1_767_254_400.0  # 2026-01-01 08:00 UTC
CFG = PolicyConfig(capacity_per_agent=1.0, target_utilization=0.5, up_cooldown_seconds=60, down_cooldown_seconds=600)


def step(state, t, workload, forecast=None, **kw):
    return decide(state, t, workload, workload if forecast is None else forecast, kw.pop("config", CFG), **kw)


def test_predictive_term_uses_headroom_and_target_utilization():
    state, cmd = step(new_state("NBA", 1), T0, 1.0, forecast=4.0, headroom=0.25)
    assert state["agents"] == 10  # 4 * 1.25 / (1.0 * 0.5)
    assert cmd["action"] == "scale_up" and cmd["agents_before"] == 1 and cmd["agents_after"] == 10
    assert cmd["forecast"] == 4.0 and not cmd["forecast_only"]


def test_never_below_what_the_observed_load_needs():
    state, _ = step(new_state("NBA", 1), T0, 7.0, forecast=0.5)
    assert state["agents"] == 7  # reactive floor: 7 work units/s at 1 per agent


def test_scale_up_fast_scale_down_slow_without_flapping():
    state, _ = step(new_state("NBA", 1), T0, 5.0)
    assert state["agents"] == 10
    state, cmd = step(state, T0 + 30, 1.0)  # load drops at once: no scale-down inside the cooldown
    assert cmd is None and state["agents"] == 10
    state, cmd = step(state, T0 + 90, 6.0)  # up again after the up cooldown
    assert cmd["action"] == "scale_up" and state["agents"] == 12
    for t in (T0 + 300, T0 + 600):
        state, cmd = step(state, t, 1.0)
        assert cmd is None
    state, cmd = step(state, T0 + 700, 1.0)  # cooldown over, and every desired count in the window is 2
    assert cmd["action"] == "scale_down" and state["agents"] == 2
    state, cmd = step(state, T0 + 720, 2.0)  # an up right after a down waits for the up cooldown
    assert cmd is None
    state, cmd = step(state, T0 + 780, 2.0)
    assert cmd["action"] == "scale_up" and state["agents"] == 4


def test_no_scale_down_that_the_next_interval_would_undo():
    state = {**new_state("NBA", 10), "last_scale_at": T0 - 3600}
    state, cmd = step(state, T0, 1.0, forecast=1.0, upcoming=4.0)  # load dips for one interval only
    assert cmd["agents_after"] == 8  # not 2: the interval after needs 4 / 0.5 agents
    state = {**new_state("NBA", 10), "last_scale_at": T0 - 3600}
    state, cmd = step(state, T0, 1.0, forecast=1.0, upcoming=20.0)
    assert cmd is None and state["agents"] == 10


def test_scale_down_goes_to_the_highest_recent_desire():
    state = {**new_state("NBA", 10), "last_scale_at": T0 - 3600}
    state, _ = step(state, T0, 3.0)  # desired 6
    state, _ = step(state, T0 + 100, 1.0, config=PolicyConfig(down_cooldown_seconds=0, target_utilization=0.5))
    assert state["agents"] == 2
    state = {**new_state("NBA", 10), "last_scale_at": T0 - 3600}
    state, cmd = step(state, T0, 3.0)
    assert cmd["agents_after"] == 6


def test_emergency_scale_down_by_30_percent_then_cooldown():
    state = new_state("NBA", 20)
    state, cmd = step(state, T0, 50.0, cpu_percent=95.0, active_agents=20)
    assert cmd["action"] == "emergency_scale_down" and state["agents"] == 14
    state, cmd = step(state, T0 + 30, 50.0, memory_percent=90.0, active_agents=14)  # within the cooldown: hold
    assert cmd is None and state["agents"] == 14
    held, cmd = step(state, T0 + 150, 50.0, memory_percent=86.0)  # no worker count: the cut's effect is unseen
    assert cmd is None and held["agents"] == 14
    state, cmd = step(state, T0 + 150, 50.0, memory_percent=86.0, active_agents=14)  # it shows, still hot
    assert cmd["agents_after"] == 9  # int(14 * 0.7)
    state, cmd = step(state, T0 + 160, 50.0, cpu_percent=90.0)  # 90% is not above 90%: normal rules, but ...
    assert cmd is None  # ... CPU >= 80% blocks any scale-up


def test_emergency_cut_holds_for_its_cooldown_even_below_the_floor():
    cfg = PolicyConfig(capacity_per_agent=1.0, target_utilization=0.5, up_cooldown_seconds=60, min_agents=20)
    state, cmd = step(new_state("NBA", 20), T0, 5.0, cpu_percent=95.0, config=cfg)
    assert cmd["action"] == "emergency_scale_down" and state["agents"] == 14
    state, cmd = step(state, T0 + 30, 5.0, cpu_percent=40.0, config=cfg)  # CPU normal again; cooldown is 120 s
    assert cmd is None and state["agents"] == 14
    state, cmd = step(state, T0 + 121, 5.0, cpu_percent=40.0, config=cfg)
    assert cmd["action"] == "scale_up" and state["agents"] == 20 and "bounded to [20" in cmd["reason"]


def test_resource_limits_block_scale_up_only():
    state, cmd = step(new_state("NBA", 2), T0, 10.0, memory_percent=80.0)  # the HighMemory warning threshold
    assert cmd is None and state["agents"] == 2
    state, cmd = step(new_state("NBA", 2), T0, 10.0, memory_percent=79.0)
    assert cmd["action"] == "scale_up"
    state = {**new_state("NBA", 10), "last_scale_at": T0 - 3600}
    state, cmd = step(state, T0, 1.0, cpu_percent=85.0)
    assert cmd["action"] == "scale_down"


def test_total_agent_limit_over_leagues_and_league_maximum():
    state, _ = step(new_state("NBA", 1), T0, 100.0, other_agents=140)
    assert state["agents"] == 10  # 150 in total, 140 used by the other leagues
    cfg = PolicyConfig(target_utilization=0.5, max_agents=30)
    state, _ = decide(new_state("NBA", 1), T0, 100.0, 100.0, cfg)
    assert state["agents"] == 30


def test_overrides_set_bounds_disable_and_expire():
    state = add_override(
        new_state("NBA", 2),
        {
            "override_id": "o1",
            "league": "NBA",
            "min_agents": 8,
            "max_agents": None,
            "reason": "playoffs",
            "expires_at": T0 + 1000,
            "created_at": T0,
        },
    )
    state, cmd = step(state, T0, 1.0)
    assert cmd["action"] == "scale_up" and state["agents"] == 8
    assert cmd["reason"] == "forecast 1; bounded to [8, 150] by override: playoffs"
    state, cmd = step(state, T0 + 900, 1.0)
    assert cmd is None and state["agents"] == 8
    state, cmd = step(state, T0 + 1600, 1.0)  # expired: back to what the load needs
    assert cmd["action"] == "scale_down" and state["agents"] == 2 and state["overrides"] == {}
    state = add_override(
        state,
        {
            "override_id": "m",
            "league": "NBA",
            "predictive_enabled": False,
            "reason": "maintenance",
            "expires_at": T0 + 5000,
            "created_at": T0,
        },
    )
    state, cmd = step(state, T0 + 2000, 50.0)
    assert cmd is None and state["agents"] == 2
    state = add_override(
        state, {"override_id": "cap", "league": "NBA", "max_agents": 1, "reason": "budget", "expires_at": T0 + 9000}
    )
    state = add_override(state, {"override_id": "m", "league": "NBA", "reason": "done", "expires_at": T0})
    state, cmd = step(state, T0 + 2010, 50.0)  # a lowered ceiling applies at once, cooldown or not
    assert cmd["agents_after"] == 1 and cmd["reason"] == "forecast 50; bounded to [1, 1] by override: budget"


def test_pre_scaling_30_minutes_before_a_scheduled_game():
    profile = LeagueProfile(
        "NBA", base_agents=4, peak_hours=(20,), game_day_multiplier=2.5, game_duration_seconds=3 * 3600
    )
    start = T0 + 7200
    state = add_league_event(
        new_state("NBA", 1),
        {"league": "NBA", "game_id": "g1", "home_team": "A", "away_team": "B", "scheduled_start": start},
    )
    state, cmd = step(state, start - 1900, 0.5, target_t=start - 1860, profile=profile)
    assert state["agents"] == 2  # the profile's off-peak floor (half of base), no game yet
    state, cmd = step(state, start - 1800, 0.5, target_t=start - 1770, profile=profile)
    assert cmd["action"] == "scale_up" and state["agents"] == 10 and "g1" in cmd["reason"]
    state, cmd = step(state, start + 3 * 3600 + 700, 0.5, target_t=start + 3 * 3600 + 730, profile=profile)
    assert state["agents"] == 2


def test_event_multiplier_for_its_duration():
    state = add_league_event(
        new_state("WNBA", 1),
        {
            "event_id": "trade",
            "league": "WNBA",
            "kind": "breaking_news",
            "multiplier": 3.0,
            "starts_at": T0,
            "duration_seconds": 3600,
        },
    )
    state, cmd = step(state, T0 + 10, 1.0, forecast=1.0)
    assert state["agents"] == 6 and "trade" in cmd["reason"]
    state, _ = step(state, T0 + 4000, 1.0, forecast=1.0)
    assert state["agents"] == 2 and state["events"] == []


def test_an_event_without_a_multiplier_takes_the_profiles_breaking_news_multiplier():
    event = {"event_id": "news", "league": "NBA", "kind": "breaking_news", "multiplier": None}
    event |= {"starts_at": T0, "duration_seconds": 3600}
    profile = load_profiles()["NBA"]
    state = add_league_event(new_state("NBA", 1), event, profile)
    assert state["events"] == [[T0, T0 + 3600, profile.breaking_news_multiplier, "news"]]
    _, cmd = step(state, T0 + 10, 1.0, forecast=1.0)
    assert cmd["agents_after"] == 6 and "news x3" in cmd["reason"]  # 1.0 x 3.0 / (1.0 x 0.5)
    assert add_league_event(new_state("NBA", 1), event)["events"][0][2] == 1.0  # no profile: no multiplier
    explicit = add_league_event(new_state("NBA", 1), {**event, "multiplier": 1.5}, profile)
    assert explicit["events"][0][2] == 1.5


def test_forecast_only_mode_and_deterministic_ids():
    cfg = PolicyConfig(target_utilization=0.5, forecast_only=True)
    a = decide(new_state("NFL", 1), T0, 3.0, 3.0, cfg)[1]
    b = decide(new_state("NFL", 1), T0, 3.0, 3.0, cfg)[1]
    assert a["forecast_only"] and a == b
    assert a["command_id"] == command_id("NFL", T0, 1, 6, "scale_up")
    assert a["command_id"] != decide(new_state("NFL", 1), T0 + 1, 3.0, 3.0, cfg)[1]["command_id"]


def test_history_is_bounded_and_state_is_json_and_avro():
    cfg = PolicyConfig(target_utilization=0.5, up_cooldown_seconds=0, down_cooldown_seconds=0, history_size=5)
    state = new_league_state("NBA", 1)
    for i in range(20):
        state, _ = decide(state, T0 + 60 * i, float(i % 2 * 10 + 1), None, cfg)
    assert len(state["history"]) == 5
    json.dumps(state)
    state, _ = add_metrics(
        state, {"server_id": "s1", "observed_at": T0, "workload": 2.0, "cpu_percent": 10.0, "memory_percent": 20.0}, 30
    )
    codec = get_codec()
    record = to_record(state, T0, False)
    _, decoded = codec.decode(codec.encode("ScalingState", record))
    assert from_record(decoded) == {**state, "overrides": {}}


def test_emergency_cuts_the_workers_that_really_run():
    state = {**new_state("NBA", 20)}
    state, cmd = step(state, T0, 50.0, cpu_percent=95.0, active_agents=10)  # only 10 of 20 started so far
    assert cmd["action"] == "emergency_scale_down" and cmd["agents_before"] == 20 and state["agents"] == 7
    state, cmd = step(new_state("NBA", 20), T0, 50.0, cpu_percent=95.0, active_agents=0)  # not counted: decided
    assert state["agents"] == 14


def test_profiles_from_settings_json():
    profiles = load_profiles('{"NBA": {"base_agents": 3, "peak_hours": [20]}, "XFL": {"max_agents": 9}}')
    assert profiles["NBA"].base_agents == 3 and profiles["NBA"].peak_hours == (20,)
    assert profiles["WNBA"].base_agents == 8 and profiles["XFL"].max_agents == 9
    with pytest.raises(ValueError):
        load_profiles('{"NBA": {"nope": 1}}')
    assert profiles["NBA"].ceiling_agents(T0 + 220 * 86400) == 24  # August: off-season, 60% of 40


def test_bad_config_is_refused():
    with pytest.raises(ValueError):
        PolicyConfig(target_utilization=0)
    with pytest.raises(ValueError):
        PolicyConfig(min_agents=5, max_agents=2)


@pytest.mark.parametrize(
    ("name", "record", "problem"),
    [
        ("LeagueEvent", {"multiplier": math.inf, "duration_seconds": 60}, "multiplier inf is not a positive number"),
        ("LeagueEvent", {"multiplier": 1e300, "duration_seconds": 60}, "multiplier 1e[+]300 is not a positive number"),
        ("LeagueEvent", {"multiplier": None, "duration_seconds": 2**31 - 1}, "duration_seconds 2147483647 is over"),
        (
            "LeagueEvent",
            {"multiplier": None, "duration_seconds": 60, "starts_at": datetime(1, 1, 1, tzinfo=UTC)},
            "starts_at 0001-01-01 00:00:00[+]00:00 is not a timestamp within",
        ),
        ("LeagueEvent", {"multiplier": None, "duration_seconds": 60, "event_id": ""}, "event_id is empty"),
        ("ScalingOverride", {"min_agents": None, "max_agents": 2**31 - 1}, "max_agents 2147483647 is over 100000"),
        ("ScalingOverride", {"reason": "r" * 2001}, "reason of 2001 characters is over 2000"),
        ("ScalingOverride", {"expires_at": "0001-01-01T00:00:00Z"}, "expires_at 0001-01-01T00:00:00Z is not a"),
        ("ScheduledGame", {"scheduled_start": "0001-01-01T00:00:00Z"}, "scheduled_start 0001-01-01T00:00:00Z is not"),
        ("LeagueEvent", {"multiplier": -2.0, "duration_seconds": 60}, "multiplier -2.0 is not a positive number"),
        ("LeagueEvent", {"multiplier": None, "duration_seconds": 0}, "duration_seconds 0 is not positive"),
        ("ScalingOverride", {"min_agents": None, "max_agents": -1}, "max_agents -1 is negative"),
        ("ScalingOverride", {"min_agents": 10, "max_agents": 3}, "min_agents 10 is above max_agents 3"),
    ],
)
def test_events_and_overrides_that_cannot_be_applied_are_refused(name, record, problem):
    with pytest.raises(InvalidRecord, match=f"invalid {name}: {problem}"):
        validate_scaling_input(name, record)


def test_good_events_and_overrides_pass():
    validate_scaling_input("LeagueEvent", {"multiplier": None, "duration_seconds": 60})
    validate_scaling_input("LeagueEvent", {"multiplier": 2.5, "duration_seconds": 60})
    validate_scaling_input("ScalingOverride", {"min_agents": 0, "max_agents": 0})
    validate_scaling_input("ScheduledGame", {"game_id": "g"})


def test_forecaster_snapshots_of_another_version_are_ignored(tmp_path):
    from streams.agents.scaling import SNAPSHOT_VERSION, _load, _save
    from streams.scaling.forecasting.ensemble import LeagueForecaster

    path = tmp_path / "scaling-forecasters.pickle"
    _save(path, {"NBA": LeagueForecaster()})
    assert list(_load(path)) == ["NBA"]
    path.write_bytes(json.dumps({"version": SNAPSHOT_VERSION - 1}).encode())  # not a pickle: unreadable
    assert _load(path) == {}
    import pickle

    path.write_bytes(pickle.dumps({"NBA": LeagueForecaster()}))  # the unversioned layout of older workers
    assert _load(path) == {}


# One policy: emergency cuts. ``make run`` replays an hourly trace (speed 36000: one sample an hour of sample time)
# while the CPU is this machine's psutil reading, busy with the broker, the worker and the replays, not with the
# league's agents (nobody runs them: the servers count none). Each sample was past the 120 s cooldown, so every one
# cut 30% of the policy's own count: 20 -> 14 -> 9 -> 6 -> 4 -> 2 -> 1 in under a second of wall time.
NFL_KICKOFF = 1_767_549_600.0  # 2026-01-04 18:00 UTC, 13:00 in New York: NFL peak hours, high season


def _through_state_and_policy(samples, profile=None, game=None, config=PolicyConfig(), agents=1):
    """Run SystemMetrics samples through ``add_metrics`` and ``decide`` as the scaling agent does (30 s intervals);
    return the final state and ``[(interval start, command)]`` of every decision."""
    league = samples[0]["league"]
    state = new_league_state(league, agents)
    if game is not None:
        state = add_league_event(state, {"league": league, "game_id": "g1", "scheduled_start": game}, profile)
    decisions = []
    for sample in samples:
        state, closed = add_metrics(state, sample, 30)
        for interval in closed:
            state, command = decide(
                state,
                interval["t"],
                interval["workload"],
                interval["workload"],
                config,
                cpu_percent=interval["cpu_percent"],
                memory_percent=interval["memory_percent"],
                target_t=interval["t"] + 30,
                profile=profile,
                active_agents=interval["active_agents"],
            )
            decisions.append((interval["t"], command))
    return state, decisions


def _hourly_trace(start, hours, cpu_percent):
    return [
        {
            "server_id": "nfl-1",
            "league": "NFL",
            "observed_at": start + 3600 * h,
            "workload": 5.0,
            "cpu_percent": cpu_percent(h),
            "memory_percent": 40.0,
            "active_agents": 0,
            "interval_seconds": 3600.0,
        }
        for h in range(hours)
    ]


def _cuts(decisions):
    return [
        (t, c["agents_before"], c["agents_after"]) for t, c in decisions if c and c["action"] == "emergency_scale_down"
    ]


def test_the_make_run_cascade_stops_at_the_leagues_floor_while_its_game_is_live():
    profile = load_profiles()["NFL"]
    floor = profile.floor_agents(NFL_KICKOFF)
    assert floor == 24  # base 20, and 20% more in high season
    start = NFL_KICKOFF - 1800  # the first sample pre-scales for the game; the CPU is pinned from kickoff on
    trace = _hourly_trace(start, 8, lambda h: 30.0 if h == 0 else 95.0)
    _, decisions = _through_state_and_policy(trace, profile, game=NFL_KICKOFF)
    assert decisions[0][1]["action"] == "scale_up" and decisions[0][1]["agents_after"] == 50  # 20 x 3, the ceiling
    cuts = _cuts(decisions)
    during_game = [c for c in cuts if c[0] < NFL_KICKOFF + profile.game_duration_seconds]
    # `make run` reports no worker count: one cut, then hold (not 24, 16, 11, 7 ... on every hourly sample)
    assert [(before, after) for _, before, after in during_game] == [(50, 35)]
    live = [(t, c) for t, c in decisions if NFL_KICKOFF <= t < NFL_KICKOFF + profile.game_duration_seconds]
    assert len(live) == 4 and all(c is None or c["agents_after"] >= floor for _, c in live)
    assert len(cuts) == 1  # the CPU stays pinned for 8 hours: still the one cut


def test_a_backlog_of_intervals_cuts_at_most_once_per_cooldown_of_sample_time():
    samples = [
        {
            "server_id": "s1",
            "league": "NBA",
            "observed_at": T0 + 30 * i,
            "workload": 1.0,
            "cpu_percent": 95.0,
            "memory_percent": 40.0,
            "interval_seconds": 30.0,
        }
        for i in range(21)
    ]  # ten minutes of 30 s intervals, decided back to back
    _, decisions = _through_state_and_policy(samples, agents=40)
    assert [(t - T0, before, after) for t, before, after in _cuts(decisions)] == [(0, 40, 28)]  # no count: one cut
    counted = [{**s, "active_agents": 40 if s["observed_at"] < T0 + 60 else 28} for s in samples]
    _, decisions = _through_state_and_policy(counted, agents=40)
    cuts = [(t - T0, before, after) for t, before, after in _cuts(decisions)]
    assert cuts[:2] == [(0, 40, 28), (120, 28, 19)]  # the first cut showed: the next waits its cooldown
    assert all(b[0] - a[0] >= 120 for a, b in itertools.pairwise(cuts))
    no_cooldown = PolicyConfig(emergency_cooldown_seconds=0)
    state, cmd = decide(new_state("NBA", 20), T0, 1.0, 1.0, no_cooldown, cpu_percent=95.0)
    assert cmd["agents_after"] == 14
    again, cmd = decide(state, T0, 1.0, 1.0, no_cooldown, cpu_percent=95.0)  # the same interval decided twice
    assert cmd is None and again == state
    _, cmd = decide(state, T0 - 30, 1.0, 1.0, no_cooldown, cpu_percent=95.0)  # an older one
    assert cmd is None


def test_a_cut_the_servers_have_not_carried_out_is_not_cut_again():
    state, cmd = step(new_state("NBA", 20), T0, 1.0, cpu_percent=95.0, active_agents=20)
    assert cmd["agents_after"] == 14
    state, cmd = step(state, T0 + 150, 1.0, cpu_percent=95.0, active_agents=20)  # still 20 run: wait for the cut
    assert cmd is None and state["agents"] == 14
    state, cmd = step(state, T0 + 180, 1.0, cpu_percent=95.0, active_agents=14)  # it shows, CPU is still high
    assert cmd["agents_before"] == 14 and cmd["agents_after"] == 9
    state = {**new_state("NBA", 10), "last_scale_at": T0 - 60}  # a scale-down from 20 to 10, not carried out yet
    state, cmd = step(state, T0, 1.0, cpu_percent=95.0, active_agents=20)
    assert cmd["agents_after"] == 7  # from the count the policy decided, not from the 20 still running


def test_the_recorded_trace_never_cuts_below_the_floor_during_a_live_game():
    with open("connectors/sample_data/metrics_recorded.jsonl") as fh:
        trace = [json.loads(line) for line in fh]
    for sample in trace:
        sample["observed_at"] = datetime.fromisoformat(sample["observed_at"]).timestamp()
        sample["active_agents"] = 0  # as under ``make run``: the servers count no workers
    assert sum(s["cpu_percent"] > 90 for s in trace) == 8
    profile = LeagueProfile("NBA", base_agents=6, game_day_multiplier=2.0)
    tipoff = trace[0]["observed_at"] - 600
    state, decisions = _through_state_and_policy(trace, profile, game=tipoff, agents=12)
    cuts = _cuts(decisions)
    assert cuts and all(after >= 6 for _, _, after in cuts) and state["agents"] >= 6
    times = [t for t, *_ in cuts]
    assert all(b - a >= 120 for a, b in itertools.pairwise(times))
    _, without_game = _through_state_and_policy(trace, profile, agents=12)
    assert min(after for _, _, after in _cuts(without_game)) < 6  # what the floor prevents
