"""Generic checks every pure decider must pass, in the spirit of river's ``check_estimator``.

A decider is a pure function ``decide(state, input) -> (new state, commands)``: the games agent's account
decisions, the scaling policy, the health rules with remediation, the deployment manager. Whatever its
domain, running it under Kafka's at-least-once delivery with state kept in tables asks the same of it:

- its state survives a JSON round trip (deciding from ``json.loads(json.dumps(state))`` gives the same commands
  and the same next state as deciding from ``state``): tables and snapshots store it serialized;
- a redelivered input changes nothing (deciding the same input again gives no command and the same state);
- its command ids are deterministic (two fresh runs over the same inputs give the same ids): effectors
  dedupe on them;
- it does not change the state it is given (the caller may still hold it).

Wrap a decider in a :class:`Decider` and call :func:`check_decider`; :func:`builtin_deciders` gives the
adapters of Wire Report's own deciders, each fed a realistic input sequence (the shipped sample data or a
small hand-made scenario)::

    for decider in builtin_deciders():
        check_decider(decider)
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

Commands = list[dict[str, Any]]


def _command_id(command: dict[str, Any]) -> str:
    return command["command_id"]


@dataclass(frozen=True)
class Decider:
    """A pure decider and a realistic input sequence for it.

    ``decide(state, input)`` returns ``(new state, commands)``; ``command_id`` reads a command's id (the
    deduplication key its effector uses).
    """

    name: str
    initial_state: Callable[[], Any]
    inputs: Callable[[], Sequence[Any]]
    decide: Callable[[Any, Any], tuple[Any, Commands]]
    command_id: Callable[[dict[str, Any]], str] = field(default=_command_id)

    def __repr__(self) -> str:
        return f"Decider({self.name})"


class DeciderCheckFailed(AssertionError):
    """A decider broke one of the generic checks (the message says which input and where the outputs differ)."""


def _json_form(value: Any, decider: Decider, check: str, index: int) -> Any:
    """A state as it comes back from JSON (tuples become lists, keys become text); a state that is not JSON fails."""
    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError) as exc:
        raise _fail(decider, check, index, f"the state is not JSON: {exc}") from None


def _first_difference(a: Any, b: Any, path: str = "") -> str | None:
    """Where two JSON-like values first differ (``None`` when equal)."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b), key=str):
            if key not in a or key not in b:
                return f"{path}[{key!r}] is only on one side"
            found = _first_difference(a[key], b[key], f"{path}[{key!r}]")
            if found:
                return found
        return None
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        if len(a) != len(b):
            return f"{path} has {len(a)} items against {len(b)}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            found = _first_difference(x, y, f"{path}[{i}]")
            if found:
                return found
        return None
    return None if a == b else f"{path}: {a!r} against {b!r}"


def _fail(decider: Decider, check: str, index: int, what: str) -> DeciderCheckFailed:
    return DeciderCheckFailed(f"{decider.name}: {check}: input {index}: {what}")


def run(decider: Decider) -> tuple[Any, Commands]:
    """The final state and every command of one fresh run over the decider's inputs."""
    state, commands = decider.initial_state(), []
    for item in decider.inputs():
        state, more = decider.decide(state, item)
        commands.extend(more)
    return state, commands


def check_state_survives_json_round_trip(decider: Decider) -> None:
    """At every input, deciding from the state's JSON round trip gives the same commands and next state."""
    state = decider.initial_state()
    for index, item in enumerate(decider.inputs()):
        restored = _json_form(state, decider, "JSON round trip", index)
        expected_state, expected = decider.decide(state, item)
        try:
            got_state, got = decider.decide(restored, item)
        except Exception as exc:
            raise _fail(decider, "JSON round trip", index, f"deciding from the restored state raised {exc!r}") from exc
        if got != expected:
            raise _fail(decider, "JSON round trip", index, f"other commands: {_first_difference(got, expected)}")
        expected_form = _json_form(expected_state, decider, "JSON round trip", index)
        difference = _first_difference(_json_form(got_state, decider, "JSON round trip", index), expected_form)
        if difference:
            raise _fail(decider, "JSON round trip", index, f"another next state: {difference}")
        state = expected_state


def check_redelivery_changes_nothing(decider: Decider) -> None:
    """Every input decided a second time (a redelivery) gives no command and leaves the state as it was."""
    state = decider.initial_state()
    for index, item in enumerate(decider.inputs()):
        state, _ = decider.decide(state, item)
        again, commands = decider.decide(state, item)
        if commands:
            ids = [decider.command_id(c) for c in commands]
            raise _fail(decider, "redelivery", index, f"the redelivered input gave commands {ids}")
        form = _json_form(state, decider, "redelivery", index)
        difference = _first_difference(_json_form(again, decider, "redelivery", index), form)
        if difference:
            raise _fail(decider, "redelivery", index, f"the redelivered input changed the state: {difference}")


def check_command_ids_are_deterministic(decider: Decider) -> None:
    """Two fresh runs over the same inputs give the same commands with the same ids (and there are some)."""
    _, first = run(decider)
    _, second = run(decider)
    if not first:
        raise DeciderCheckFailed(f"{decider.name}: deterministic ids: its inputs give no command to check")
    first_ids, second_ids = [decider.command_id(c) for c in first], [decider.command_id(c) for c in second]
    if first_ids != second_ids:
        raise DeciderCheckFailed(
            f"{decider.name}: deterministic ids: the runs differ: {_first_difference(first_ids, second_ids)}"
        )
    if first != second:
        raise DeciderCheckFailed(f"{decider.name}: deterministic ids: same ids, other commands")


def check_input_state_is_not_changed(decider: Decider) -> None:
    """Deciding leaves the state it was given as it was (the caller, e.g. a table, may still hold it)."""
    state = decider.initial_state()
    for index, item in enumerate(decider.inputs()):
        before = _json_form(state, decider, "input state", index)
        next_state, _ = decider.decide(state, item)
        difference = _first_difference(_json_form(state, decider, "input state", index), before)
        if difference:
            raise _fail(decider, "input state", index, f"decide changed the state it was given: {difference}")
        state = next_state


CHECKS: tuple[Callable[[Decider], None], ...] = (
    check_state_survives_json_round_trip,
    check_redelivery_changes_nothing,
    check_command_ids_are_deterministic,
    check_input_state_is_not_changed,
)


def yield_checks(decider: Decider) -> Iterator[Callable[[], None]]:
    """Each generic check bound to ``decider`` (run them one by one, e.g. as parametrized tests)."""
    for check in CHECKS:
        yield partial(check, decider)


def check_decider(decider: Decider) -> None:
    """Run every generic check over ``decider``; raises :class:`DeciderCheckFailed` at the first failure."""
    for check in yield_checks(decider):
        check()


# --- Wire Report's own deciders -----------------------------------------------------------------------------


def plays_decider(limit: int = 17, tz: str = "America/New_York") -> Decider:
    """The games agent's account decisions over the real NFL Sunday (2018 week 1) and its schedule."""
    from connectors.jsonl import read_jsonl
    from connectors.testing.records import SAMPLE_DATA
    from schemas.json_form import from_json
    from streams.games.steps import decide_for_account, new_account_state
    from streams.games.tweet_budget import ScheduleIndex

    def records(name: str, schema: str) -> list[dict[str, Any]]:
        return [from_json(schema, obj) for _, obj in read_jsonl(SAMPLE_DATA / name)]

    schedule = ScheduleIndex(records("nfl_2018_week1_schedule.jsonl", "ScheduledGame"), tz)
    plays = records("nfl_2018_week1_sunday.jsonl.gz", "Play")

    def decide(state: Any, play: dict[str, Any]) -> tuple[Any, Commands]:
        decision, state = decide_for_account(play, state, schedule, limit=limit, tz=tz)
        return state, [decision["command"]] if decision["command"] is not None else []

    return Decider("plays", new_account_state, lambda: plays, decide)


SCALING_BUCKET_SECONDS = 300.0


def _scaling_metrics(days: float) -> list[dict[str, Any]]:
    """SystemMetrics of two NBA servers sharing the first ``days`` of the ``bank_calls`` load trace."""
    from connectors.sources.importers.load import read_named_trace
    from schemas.json_form import parse_timestamp

    samples = []
    start = None
    for load in read_named_trace("bank_calls", "NBA"):
        at = parse_timestamp(load["observed_at"])
        start = start or at
        if at - start >= timedelta(days=days):
            break
        for server, share in (("nba-1", 0.6), ("nba-2", 0.4)):
            workload = load["workload"] * share
            samples.append(
                {
                    "server_id": server,
                    "league": "NBA",
                    "observed_at": at,
                    "workload": workload,
                    "cpu_percent": min(99.0, 20.0 + 25.0 * workload),
                    "memory_percent": 40.0,
                    "disk_percent": 30.0,
                    "interval_seconds": SCALING_BUCKET_SECONDS,
                    "active_agents": 2,
                    "host": server,
                }
            )
    return samples


def scaling_decider(days: float = 3.0) -> Decider:
    """The scaling agent's per-league step: metrics -> closed intervals -> policy, over a real load trace.

    The forecast is the interval's own workload (the agent's online forecasters live outside the state).
    """
    from streams.scaling.policy import PolicyConfig
    from streams.scaling.policy import decide as decide_scaling
    from streams.scaling.state import add_metrics, new_league_state

    config = PolicyConfig(capacity_per_agent=0.05, max_agents=60, max_total_agents=60)
    metrics = _scaling_metrics(days)

    def decide(state: dict[str, Any], sample: dict[str, Any]) -> tuple[dict[str, Any], Commands]:
        state, closed = add_metrics(state, sample, SCALING_BUCKET_SECONDS)
        commands = []
        for interval in closed:
            state, command = decide_scaling(
                state,
                interval["t"],
                interval["workload"],
                interval["workload"],
                config,
                cpu_percent=interval["cpu_percent"],
                memory_percent=interval["memory_percent"],
                active_agents=interval["active_agents"],
            )
            state = {**state, "active_agents": interval["active_agents"]}
            if command is not None:
                commands.append(command)
        return state, commands

    return Decider("scaling", lambda: new_league_state("NBA", config.min_agents), lambda: metrics, decide)


def health_decider() -> Decider:
    """The health agent's step: rules then remediation per server, over the recorded metrics of a lab server."""
    from connectors.jsonl import read_jsonl
    from connectors.testing.records import SAMPLE_DATA
    from schemas.json_form import from_json
    from streams.health.remediation import RemediationConfig, new_remediation_state, remediate_all
    from streams.health.rules import HealthConfig, evaluate_sample

    config, remediation = HealthConfig(), RemediationConfig()
    samples = [from_json("SystemMetrics", obj) for _, obj in read_jsonl(SAMPLE_DATA / "metrics_recorded.jsonl")]

    def decide(states: dict[str, Any], sample: dict[str, Any]) -> tuple[dict[str, Any], Commands]:
        server = sample["server_id"]
        state, alerts = evaluate_sample(states.get(server), sample, config)
        rem, commands, escalations = remediate_all(
            state.get("remediation") or new_remediation_state(), alerts, remediation
        )
        return {**states, server: {**state, "remediation": rem}}, [*alerts, *escalations, *commands]

    def output_id(output: dict[str, Any]) -> str:  # an alert's id is its fingerprint and transition
        return output.get("command_id") or f"{output['fingerprint']}:{output['status']}"

    return Decider("health", dict, lambda: samples, decide, output_id)


def _deployment_inputs() -> list[tuple[str, dict[str, Any], datetime]]:
    """A day of one league's deployments: a canary that bakes and rolls out, one blocked by a live game."""
    start = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)

    def at(minutes: float) -> datetime:
        return start + timedelta(minutes=minutes)

    def metrics(server: str, first: float, count: int, version: str, error: float) -> list:
        return [
            (
                "SystemMetrics",
                {
                    "server_id": server,
                    "observed_at": at(first + i / 2),
                    "error_rate": error + 0.001 * (i % 5),
                    "latency_ms": 100.0 + (i * 7) % 11,
                    "version": version,
                },
                at(first + i / 2),
            )
            for i in range(count)
        ]

    def event(kind: str, minutes: float, deployment: str, **fields: Any) -> tuple:
        record = {"event_id": f"{kind}-{deployment}-{minutes}", "kind": kind, "deployment_id": deployment}
        return ("DeploymentEvent", {**record, "occurred_at": at(minutes), **fields}, at(minutes))

    def request(minutes: float, deployment: str, targets: list[str]) -> tuple:
        return event(
            "request", minutes, deployment, server_id="*", league="NBA", version="v2", targets=targets, force=False
        )

    def report(minutes: float, deployment: str, server: str, status: str) -> tuple:
        fields = {"server_id": server, "status": status, "version": "v2", "previous_version": "v1"}
        return event("report", minutes, deployment, **fields)

    def game(minutes: float, status: str) -> tuple:
        record = {"game_id": "g1", "league": "NBA", "status": status, "home_team": "BOS", "away_team": "LAL"}
        return ("GameState", {**record, "updated_at": at(minutes)}, at(minutes))

    return [
        *metrics("s1", -40, 60, "v1", 0.005),  # the canary's baseline
        request(0, "d1", ["s1", "s2"]),
        report(1, "d1", "s1", "applied"),
        *metrics("s1", 1.5, 20, "v2", 0.005),  # healthy: baked after 5 minutes, then rolled out
        ("tick", {}, at(12)),
        report(13, "d1", "s2", "applied"),
        game(14, "live"),
        request(15, "d2", ["s3"]),  # blocked by the live game
        ("tick", {}, at(16)),
        game(17, "final"),  # deploys the canary s3
        report(18, "d2", "s3", "failed"),
        event("rollback", 19, "d1", server_id="*", requested_by="ops", detail="manual rollback"),
        report(20, "d1", "s1", "rolled_back"),
        report(20.5, "d1", "s2", "rolled_back"),
    ]


def deployments_decider() -> Decider:
    """The deployment manager behind its controller, over a hand-made day of requests, reports, games, metrics."""
    from streams.deployments.controller import DeploymentController
    from streams.deployments.manager import DeploymentPolicy

    policy = DeploymentPolicy()
    inputs = _deployment_inputs()

    def decide(snapshot: dict[str, Any], item: tuple[str, dict[str, Any], datetime]) -> tuple[dict[str, Any], Commands]:
        schema, record, now = item
        controller = DeploymentController.from_snapshot(policy, snapshot)
        out = controller.tick(now) if schema == "tick" else controller.handle(schema, record, now)
        return controller.snapshot(), out.decisions

    def initial_state() -> dict[str, Any]:
        return DeploymentController(policy).snapshot()

    return Decider("deployments", initial_state, lambda: inputs, decide, lambda d: d["decision_id"])


def builtin_deciders() -> list[Decider]:
    """Adapters of Wire Report's four pure deciders (plays, scaling, health, deployments)."""
    return [plays_decider(), scaling_decider(), health_decider(), deployments_decider()]
