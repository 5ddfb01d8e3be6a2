"""Every operator-relevant event reaches the Slack-compatible webhook through the real alert router and a real
broker: one grouped notification per kind, nothing while silenced, and a cancelled silence stops muting."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from connectors.admin_records import cancellation
from connectors.effectors.alerts.watchdog import condition_alert
from connectors.effectors.scaling.scaler import failure_alert
from connectors.testing import wait_until
from streams.deployments.steps import transition_alert
from streams.scaling.steps import emergency_alert
from tests.integration.connectors.effectors.alerts.test_router import (  # noqa: F401 (fixtures)
    RouterThread,
    bootstrap,
    make_router,
    produce,
    webhook,
)

NOW = datetime.now(UTC).replace(microsecond=0)


def command(league: str, command_id: str, action: str = "emergency_scale_down") -> dict:
    return {
        "command_id": command_id,
        "league": league,
        "agents_before": 10,
        "agents_after": 7,
        "action": action,
        "reason": "emergency: cpu 97% memory 40%",
        "forecast": None,
        "forecast_only": False,
        "decided_at": NOW,
    }


def deployment(phase: str, deployment_id: str, code: str | None = None) -> dict:
    state = {"deployment_id": deployment_id, "league": "NFL", "version": "v9", "phase": phase}
    return {**state, "reason": f"{phase} for a reason", "block_code": code, "updated_at": NOW}


def dead_letter(source: str, offset: int) -> dict:
    return {
        "source_topic": source,
        "partition": 0,
        "offset": offset,
        "key": None,
        "value": b"\x00",
        "reason": "undecodable Play: bad magic bytes",
        "agent": "games",
        "failed_at": NOW,
    }


def account_held() -> dict:
    """What the publisher emits for an account without working credentials (its own alert kind)."""
    return {
        "fingerprint": "xaccountheld-nba",
        "alertname": "XAccountHeld",
        "server_id": None,
        "league": "NBA",
        "severity": "critical",
        "status": "firing",
        "value": None,
        "threshold": None,
        "summary": "NBA account held: X answered 401",
        "suggestion": "Renew the account's credentials.",
        "at": NOW,
        "starts_at": NOW,
        "labels": {"account": "nba"},
    }


SILENCE = {
    "silence_id": "silence-completed",
    "matchers": {"alertname": "DeploymentCompleted"},
    "starts_at": NOW - timedelta(minutes=1),
    "ends_at": NOW + timedelta(hours=1),
    "comment": "a noisy release day",
}


def test_one_grouped_notification_per_event_kind_nothing_while_silenced(bootstrap, webhook, tmp_path):  # noqa: F811
    produce(bootstrap, "silences", SILENCE)
    router = make_router(bootstrap, webhook, tmp_path)
    with RouterThread(router):
        produce(
            bootstrap,
            "alerts",
            emergency_alert(command("NBA", "c-1")),
            emergency_alert(command("NBA", "c-1")),  # a redelivery: the same alert
            failure_alert(command("NFL", "c-2", "scale_up"), "HTTP 404: no such Deployment"),
            transition_alert(deployment("baking", "d1"), deployment("rolled_back", "d1")),
            transition_alert(None, deployment("waiting", "d2", "live_game")),
            transition_alert(deployment("rollout", "d3"), deployment("completed", "d3")),  # silenced
            account_held(),
            condition_alert("ConsumerLag", "wirereport", True, NOW, "wirereport is 20000 behind", 20000.0, 10000.0),
            condition_alert("ProcessNotReady", "http://127.0.0.1:1/ready", True, NOW, "not ready", None, None),
        )
        produce(
            bootstrap, "dead-letters", *[dead_letter("plays", i) for i in range(3)], dead_letter("system-metrics", 9)
        )
        kinds = [
            "ScalingEmergencyCut",
            "ScalingCommandFailed",
            "DeploymentRolledBack",
            "DeploymentBlocked",
            "XAccountHeld",
            "ConsumerLag",
            "ProcessNotReady",
            "DeadLetters",
        ]
        wait_until(lambda: all(any(k in t for t in webhook.texts()) for k in kinds), 30, message=webhook.texts)
        time.sleep(2.5)  # more group intervals: no repeat of an event, nothing of the silenced kind
        texts = webhook.texts()
        assert not any("DeploymentCompleted" in t for t in texts), texts
        for kind in kinds:
            assert sum(kind in t.splitlines()[0] for t in texts) == 1, (kind, texts)
        cut = next(t for t in texts if "ScalingEmergencyCut" in t)
        assert cut.startswith("[FIRING:1] NBA ScalingEmergencyCut") and "from 10 to 7 agents" in cut
        letters = next(t for t in texts if "DeadLetters" in t)
        assert "3 dead letter(s) from plays" in letters and "1 dead letter(s) from system-metrics" in letters
        assert "XAccountHeld nba: NBA account held" in next(t for t in texts if "XAccountHeld" in t)

        # cancelling the silence: the next completed deployment is notified (the one muted before is not)
        _, _, cancelled = cancellation("silence", SILENCE["silence_id"], "alice", "release done", NOW, original=SILENCE)
        produce(bootstrap, "silences", cancelled)
        wait_until(lambda: "silence-completed" not in router.grouper.state["silences"], 20)
        produce(bootstrap, "alerts", transition_alert(deployment("rollout", "d4"), deployment("completed", "d4")))
        wait_until(lambda: any("DeploymentCompleted" in t for t in webhook.texts()), 20, message=webhook.texts)
        completed = [t for t in webhook.texts() if "DeploymentCompleted" in t]
        assert len(completed) == 1 and "d4" in completed[0] and "d3" not in completed[0]
