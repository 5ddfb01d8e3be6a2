"""Deployment manager (pure): requests -> safety -> canary -> bake and compare -> rollout, or automatic rollback.

A deployment's state is the JSON form of a DeploymentState record (plain, JSON-able dict: a Faust table can
hold it). Every function takes the state, the input and ``now`` and returns a :class:`Step` (new state and
DeploymentDecision records); nothing here reads a clock or does I/O.

Phases: ``waiting`` (blocked by a live game or the deploy windows; re-evaluated), ``canary`` (canary deploy
sent), ``baking`` (canary applied; collecting samples), ``rollout`` (the other targets), then ``completed``;
or ``rolling_back`` -> ``rolled_back`` (``failed`` if a rollback failed); ``expired`` (blocked too long),
``cancelled`` (rolled back before anything was deployed), ``rejected`` (invalid request).
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypedDict

from schemas.json_form import format_timestamp, parse_timestamp
from streams.deployments.canary_analysis import (
    CanaryPolicy,
    CanaryVerdict,
    Sample,
    analyze_canary,
    epoch_ms,
    split_samples,
)
from streams.deployments.safety import DeployWindow, check_safety, parse_windows

TERMINAL = frozenset({"completed", "rolled_back", "failed", "expired", "cancelled", "rejected"})
STRATEGIES = ("canary", "all_at_once")
ALL_SERVERS = "*"


class ServerDeployment(TypedDict):
    """Where one target server of a deployment stands."""

    server_id: str
    status: str  # pending, deploying, applied, failed, rolling_back, rolled_back, rollback_failed
    previous_version: str | None  # what it ran before (to roll back to)
    decision_id: str | None  # the last decision sent to it
    detail: str | None  # from its last report


class DeploymentState(TypedDict):
    """A deployment (the JSON form of a ``DeploymentState`` record: timestamps are ISO text)."""

    deployment_id: str
    league: str | None
    version: str
    previous_version: str | None  # the canary's version before the deployment
    targets: list[str]  # server ids, in request order (the first is the canary)
    strategy: str  # canary or all_at_once
    force: bool  # deploy during live games and outside the windows
    requested_by: str
    phase: str  # waiting, canary, baking, rollout, rolling_back, or a TERMINAL one
    reason: str  # why it is in its phase (or blocked)
    block_code: str | None  # why it waits (a decision is sent only when this changes)
    canary_server: str | None
    servers: list[ServerDeployment]
    canary: CanaryVerdict | None
    requested_at: str
    updated_at: str
    canary_decided_at: str | None
    canary_applied_at: str | None
    finished_at: str | None


class DeploymentDecision(TypedDict):
    """The ``DeploymentDecision`` record the deployment agents act on."""

    decision_id: str  # deterministic: deployment, server, action, cause
    deployment_id: str
    server_id: str  # or ALL_SERVERS
    league: str | None
    version: str
    action: str  # deploy, rollback, blocked, hold or completed
    phase: str
    reason: str
    previous_version: str | None
    canary: bool
    decided_at: datetime


@dataclass(frozen=True)
class DeploymentPolicy:
    """The manager's knobs (see the ``deploy_*`` settings)."""

    windows: tuple[DeployWindow, ...] = ()
    canary: CanaryPolicy = field(default_factory=CanaryPolicy)
    bake_seconds: float = 300.0
    canary_timeout_seconds: float = 1800.0
    baseline_seconds: float = 3600.0
    request_ttl_seconds: float = 86400.0
    live_game_max_age_seconds: float = 21600.0

    @classmethod
    def from_settings(cls, settings: Any) -> DeploymentPolicy:
        return cls(
            windows=parse_windows(settings.deploy_windows),
            canary=CanaryPolicy(
                alpha=settings.deploy_canary_alpha,
                min_samples=settings.deploy_canary_min_samples,
                min_error_rate_increase=settings.deploy_min_error_rate_increase,
                min_latency_increase=settings.deploy_min_latency_increase,
            ),
            bake_seconds=settings.deploy_canary_bake_seconds,
            canary_timeout_seconds=settings.deploy_canary_timeout_seconds,
            baseline_seconds=settings.deploy_canary_baseline_seconds,
            request_ttl_seconds=settings.deploy_request_ttl_seconds,
            live_game_max_age_seconds=settings.deploy_live_game_max_age_seconds,
        )


@dataclass
class Step:
    """Result of one manager call: the new state (None if the input was ignored) and the decisions to send."""

    state: DeploymentState | None
    decisions: list[DeploymentDecision] = field(default_factory=list)
    changed: bool = False


def decision_id(deployment_id: str, server_id: str, action: str, cause: str) -> str:
    """Deterministic id of a decision: the same cause always gives the same id (effectors dedupe on it)."""
    return hashlib.sha256(f"{deployment_id}|{server_id}|{action}|{cause}".encode()).hexdigest()[:24]


def _iso(value: datetime) -> str:
    return format_timestamp(value)


def _seconds_since(iso: str | None, now: datetime) -> float:
    return 0.0 if iso is None else (now - parse_timestamp(iso)).total_seconds()


def _server(state: DeploymentState, server_id: str) -> ServerDeployment | None:
    return next((s for s in state["servers"] if s["server_id"] == server_id), None)


def _decide(
    state: DeploymentState,
    server_id: str,
    action: str,
    cause: str,
    reason: str,
    now: datetime,
    *,
    canary: bool = False,
    previous: str | None = None,
) -> DeploymentDecision:
    return {
        "decision_id": decision_id(state["deployment_id"], server_id, action, cause),
        "deployment_id": state["deployment_id"],
        "server_id": server_id,
        "league": state["league"],
        "version": state["version"],
        "action": action,
        "phase": state["phase"],
        "reason": reason,
        "previous_version": previous,
        "canary": canary,
        "decided_at": now,
    }


def _set_phase(state: DeploymentState, phase: str, reason: str, now: datetime) -> None:
    state["phase"] = phase
    state["reason"] = reason
    state["updated_at"] = _iso(now)
    if phase in TERMINAL:
        state["finished_at"] = _iso(now)


def new_state(event: Mapping[str, Any], now: datetime) -> DeploymentState:
    """The initial (``waiting``) state of a request event (DeploymentEvent record, kind ``request``)."""
    targets = list(dict.fromkeys(t.strip() for t in event.get("targets") or [] if t and t.strip()))
    return {
        "deployment_id": event["deployment_id"],
        "league": event.get("league"),
        "version": event.get("version") or "",
        "previous_version": None,
        "targets": targets,
        "strategy": event.get("strategy") or "canary",
        "force": bool(event.get("force")),
        "requested_by": event.get("requested_by") or "",
        "phase": "waiting",
        "reason": "received",
        "block_code": None,
        "canary_server": targets[0] if targets and (event.get("strategy") or "canary") == "canary" else None,
        "servers": [
            {"server_id": t, "status": "pending", "previous_version": None, "decision_id": None, "detail": None}
            for t in targets
        ],
        "canary": None,
        "requested_at": _iso(event.get("occurred_at") or now),
        "updated_at": _iso(now),
        "canary_decided_at": None,
        "canary_applied_at": None,
        "finished_at": None,
    }


def _invalid(state: DeploymentState) -> str | None:
    if not state["version"]:
        return "no version given"
    if not state["targets"]:
        return "no target servers given"
    if ALL_SERVERS in state["targets"]:
        return "'*' is not a server id"
    if state["strategy"] not in STRATEGIES:
        return f"unknown strategy {state['strategy']!r} (use {' or '.join(STRATEGIES)})"
    return None


def on_request(
    state: DeploymentState | None,
    event: Mapping[str, Any],
    now: datetime,
    policy: DeploymentPolicy,
    *,
    live_games: Iterable[Mapping[str, Any]] = (),
    samples: Mapping[str, Sequence[Sample]] | None = None,
    versions: Mapping[str, str] | None = None,
    busy: Mapping[str, str] | None = None,
) -> Step:
    """A deployment request: a redelivered one (same deployment id) is ignored; a new one is evaluated at once."""
    if state is not None:
        return Step(state)
    state = new_state(event, now)
    problem = _invalid(state)
    if problem:
        _set_phase(state, "rejected", f"invalid request: {problem}", now)
        return Step(state, [_decide(state, ALL_SERVERS, "blocked", "rejected", state["reason"], now)], True)
    step = evaluate(state, now, policy, live_games=live_games, samples=samples, versions=versions, busy=busy)
    step.changed = True
    return step


def _deploy(
    state: DeploymentState, servers: list[ServerDeployment], reason: str, now: datetime, versions
) -> list[DeploymentDecision]:
    decisions = []
    for srv in servers:
        srv["status"] = "deploying"
        srv["previous_version"] = srv["previous_version"] or (versions or {}).get(srv["server_id"])
        is_canary = srv["server_id"] == state["canary_server"] and state["phase"] == "canary"
        decision = _decide(
            state, srv["server_id"], "deploy", "deploy", reason, now, canary=is_canary, previous=srv["previous_version"]
        )
        srv["decision_id"] = decision["decision_id"]
        decisions.append(decision)
    return decisions


def _rollback(state: DeploymentState, reason: str, now: datetime) -> list[DeploymentDecision]:
    """Roll back every server that has (or may have) the new version; finish at once if there is none."""
    servers = [s for s in state["servers"] if s["status"] in ("deploying", "applied")]
    _set_phase(state, "rolling_back" if servers else "rolled_back", reason, now)
    decisions = []
    for srv in servers:
        srv["status"] = "rolling_back"
        previous = srv["previous_version"] or state["previous_version"]
        decision = _decide(state, srv["server_id"], "rollback", "rollback", reason, now, previous=previous)
        srv["decision_id"] = decision["decision_id"]
        decisions.append(decision)
    return decisions


def _blocked(state: DeploymentState, code: str, reason: str, now: datetime) -> Step:
    """Record a block; a decision only when the block's cause changes (no repeats on every re-evaluation)."""
    if state["block_code"] == code:
        return Step(state)
    state["block_code"] = code
    state["reason"] = reason
    state["updated_at"] = _iso(now)
    return Step(state, [_decide(state, ALL_SERVERS, "blocked", code, reason, now)], True)


def _recent(games: Iterable[Mapping[str, Any]], now: datetime, max_age: float) -> list[Mapping[str, Any]]:
    """Games updated within ``max_age`` seconds (a 'live' game whose feed went silent for hours is over)."""
    return [g for g in games if not g.get("updated_at") or _seconds_since(_iso_of(g["updated_at"]), now) <= max_age]


def _iso_of(value: Any) -> str:
    return value if isinstance(value, str) else _iso(value)


def evaluate(
    state: DeploymentState,
    now: datetime,
    policy: DeploymentPolicy,
    *,
    live_games: Iterable[Mapping[str, Any]] = (),
    samples: Mapping[str, Sequence[Sample]] | None = None,
    versions: Mapping[str, str] | None = None,
    busy: Mapping[str, str] | None = None,
) -> Step:
    """Re-evaluate a deployment at ``now`` (on a tick, a game-state change or a canary sample).

    ``live_games``: GameState records (only live games of the deployment's league count); ``samples``: canary
    samples by server id; ``versions``: the version each server last reported running; ``busy``: servers taken
    by other deployments that have started (server id -> deployment id): a request waits until they finish.
    """
    if state["phase"] in TERMINAL:
        return Step(state)
    state = copy.deepcopy(state)
    live_games = _recent(live_games, now, policy.live_game_max_age_seconds)
    phase = state["phase"]
    if phase == "waiting":
        if _seconds_since(state["requested_at"], now) > policy.request_ttl_seconds:
            _set_phase(
                state, "expired", f"still blocked after {policy.request_ttl_seconds:.0f}s: {state['reason']}", now
            )
            return Step(state, [_decide(state, ALL_SERVERS, "blocked", "expired", state["reason"], now)], True)
        taken = {server: dep for server, dep in (busy or {}).items() if dep != state["deployment_id"]}
        overlap = sorted(t for t in state["targets"] if t in taken)
        if overlap:
            others = sorted({taken[t] for t in overlap})
            reason = f"blocked: {', '.join(overlap)} busy with deployment {', '.join(others)}"
            return _blocked(state, f"busy:{','.join(others)}", reason, now)
        safety = check_safety(
            league=state["league"], live_games=live_games, now=now, windows=policy.windows, force=state["force"]
        )
        if not safety.allowed:
            return _blocked(state, safety.code, safety.reason, now)
        state["block_code"] = None
        if state["strategy"] == "canary":
            canary = state["canary_server"]
            _set_phase(state, "canary", f"deploying {state['version']} to canary {canary} ({safety.reason})", now)
            state["canary_decided_at"] = _iso(now)
            decisions = _deploy(state, [_server(state, canary)], state["reason"], now, versions)
            state["previous_version"] = _server(state, canary)["previous_version"]
        else:
            _set_phase(state, "rollout", f"deploying {state['version']} to all targets ({safety.reason})", now)
            decisions = _deploy(state, state["servers"], state["reason"], now, versions)
        return Step(state, decisions, True)
    if phase == "canary":
        if _seconds_since(state["canary_decided_at"], now) > policy.canary_timeout_seconds:
            reason = f"canary {state['canary_server']} did not report within {policy.canary_timeout_seconds:.0f}s"
            return Step(state, _rollback(state, reason, now), True)
        return Step(state)
    if phase == "baking":
        return _judge_canary(state, now, policy, (samples or {}).get(state["canary_server"], ()), live_games, versions)
    if phase == "rollout":
        pending = [s for s in state["servers"] if s["status"] == "pending"]
        if not pending:
            return Step(state)
        return _roll_out(state, now, policy, live_games, versions)
    return Step(state)


def _judge_canary(state, now, policy, canary_samples, live_games, versions) -> Step:
    before, after = split_samples(
        canary_samples,
        decided_at_ms=epoch_ms(parse_timestamp(state["canary_decided_at"])),
        applied_at_ms=epoch_ms(parse_timestamp(state["canary_applied_at"])),
        baseline_ms=int(policy.baseline_seconds * 1000),
        new_version=state["version"],
    )
    verdict = analyze_canary(before, after, policy.canary)
    elapsed = _seconds_since(state["canary_applied_at"], now)
    canary = state["canary_server"]
    if verdict["verdict"] == "regression":
        state["canary"] = verdict
        return Step(state, _rollback(state, f"canary {canary} {verdict['reason']}", now), True)
    if verdict["verdict"] == "pass" and elapsed >= policy.bake_seconds:
        state["canary"] = verdict
        _set_phase(state, "rollout", f"canary {canary} {verdict['reason']}", now)
        return _roll_out(state, now, policy, live_games, versions, changed=True)
    if elapsed > policy.canary_timeout_seconds:
        state["canary"] = verdict
        reason = f"canary {canary} inconclusive after {elapsed:.0f}s: {verdict['reason']}"
        return Step(state, _rollback(state, reason, now), True)
    return Step(state)


def _roll_out(state, now, policy, live_games, versions, changed: bool = False) -> Step:
    pending = [s for s in state["servers"] if s["status"] == "pending"]
    if not pending:
        return _maybe_complete(state, now, changed)
    safety = check_safety(
        league=state["league"], live_games=live_games, now=now, windows=policy.windows, force=state["force"]
    )
    if not safety.allowed:
        step = _blocked(state, safety.code, f"rollout {safety.reason}", now)
        step.changed = step.changed or changed
        return step
    state["block_code"] = None
    reason = f"rolling out {state['version']} to {', '.join(s['server_id'] for s in pending)} ({safety.reason})"
    if state["canary"] and state["canary"]["verdict"] == "pass":
        reason = f"canary {state['canary_server']} {state['canary']['reason']}; {reason}"
    state["reason"] = reason
    state["updated_at"] = _iso(now)
    return Step(state, _deploy(state, pending, reason, now, versions), True)


def _maybe_complete(state: DeploymentState, now: datetime, changed: bool = False) -> Step:
    if state["phase"] == "rollout" and all(s["status"] == "applied" for s in state["servers"]):
        _set_phase(state, "completed", f"{state['version']} applied on {', '.join(state['targets'])}", now)
        return Step(state, [_decide(state, ALL_SERVERS, "completed", "completed", state["reason"], now)], True)
    return Step(state, [], changed)


def _maybe_rolled_back(state: DeploymentState, now: datetime) -> None:
    if state["phase"] != "rolling_back" or any(s["status"] == "rolling_back" for s in state["servers"]):
        return
    failed = [s["server_id"] for s in state["servers"] if s["status"] == "rollback_failed"]
    if failed:
        _set_phase(state, "failed", f"rollback failed on {', '.join(failed)}; {state['reason']}", now)
    else:
        _set_phase(state, "rolled_back", state["reason"], now)


def on_report(state: DeploymentState | None, event: Mapping[str, Any], now: datetime) -> Step:
    """A deployment agent's report (``applied``, ``failed``, ``rolled_back``, ``rollback_failed``)."""
    if state is None:
        return Step(None)
    srv = _server(state, event["server_id"])
    status = event.get("status")
    if srv is None or status not in ("applied", "failed", "rolled_back", "rollback_failed"):
        return Step(state)
    state = copy.deepcopy(state)
    srv = _server(state, event["server_id"])
    before = (srv["status"], state["phase"])
    srv["detail"] = event.get("detail")
    decisions: list[DeploymentDecision] = []
    if status == "applied" and srv["status"] == "deploying":
        srv["status"] = "applied"
        srv["previous_version"] = event.get("previous_version") or srv["previous_version"]
        if state["phase"] == "canary" and srv["server_id"] == state["canary_server"]:
            state["previous_version"] = srv["previous_version"]
            state["canary_applied_at"] = _iso(event.get("occurred_at") or now)
            reason = f"canary {srv['server_id']} runs {state['version']} (was {srv['previous_version']}); baking"
            _set_phase(state, "baking", reason, now)
            decisions.append(_decide(state, ALL_SERVERS, "hold", "baking", reason, now))
        elif state["phase"] == "rollout":
            step = _maybe_complete(state, now, True)
            return Step(step.state, step.decisions, True)
    elif status == "failed" and srv["status"] in ("deploying", "applied", "rolling_back"):
        srv["status"] = "failed"
        if state["phase"] in ("canary", "baking", "rollout"):
            reason = f"{srv['server_id']} failed to apply {state['version']}: {event.get('detail') or 'no detail'}"
            decisions = _rollback(state, reason, now)
        _maybe_rolled_back(state, now)
    elif status in ("rolled_back", "rollback_failed") and srv["status"] in ("rolling_back", "applied", "failed"):
        srv["status"] = status
        _maybe_rolled_back(state, now)
    if (srv["status"], state["phase"]) == before and not decisions:
        return Step(state)
    state["updated_at"] = _iso(now)
    return Step(state, decisions, True)


def on_rollback_request(state: DeploymentState | None, event: Mapping[str, Any], now: datetime) -> Step:
    """A manual rollback: every server that has the new version goes back; a waiting deployment is cancelled."""
    if state is None or state["phase"] in ("rolled_back", "rolling_back", "expired", "cancelled", "rejected"):
        return Step(state)
    state = copy.deepcopy(state)
    who = event.get("requested_by") or "an operator"
    reason = f"rollback requested by {who}" + (f": {event['detail']}" if event.get("detail") else "")
    if state["phase"] == "waiting":
        _set_phase(state, "cancelled", reason, now)
        return Step(state, [], True)
    return Step(state, _rollback(state, reason, now), True)
