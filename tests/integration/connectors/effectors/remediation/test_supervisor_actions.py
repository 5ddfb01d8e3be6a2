"""The supervisor's actions beyond restart, with a real child process and the real broker: shed_load (signal or
command), request_scale_up (a LeagueEvent on ``league-events``), escalate (logged); each once per command id."""

from __future__ import annotations

import json
import sys
import uuid
from datetime import UTC, datetime

from connectors.kafka.edge import EdgeProducer, consume_records
from connectors.testing import WirereportProcess, wait_until
from streams.health.remediation import remediate
from streams.health.rules import fingerprint

# a league server that drops work on SIGUSR1 (and records it) instead of dying
CHILD = """
import os, signal, sys, time
out = sys.argv[1]
open(out, "a").write(f"start {os.getpid()}\\n")
signal.signal(signal.SIGUSR1, lambda *_: open(out, "a").write("shed\\n"))
while True:
    time.sleep(0.1)
"""


def high_cpu(server: str, severity: str, league: str | None = "NBA") -> dict:
    at = datetime.now(UTC)
    return {
        "fingerprint": fingerprint("HighCpu", server, severity),
        "alertname": "HighCpu",
        "server_id": server,
        "league": league,
        "severity": severity,
        "status": "firing",
        "summary": "cpu 97%",
        "at": at,
        "starts_at": at,
    }


def escalate(server: str) -> dict:
    return {
        "command_id": f"esc-{uuid.uuid4().hex[:8]}",
        "server_id": server,
        "action": "escalate",
        "target": "league-server",
        "reason": "3 restarts of league-server in the last hour did not help",
        "alert_fingerprint": None,
        "issued_at": datetime.now(UTC),
        "parameters": {},
    }


def send(bootstrap: str, commands: list[dict]) -> None:
    with EdgeProducer(bootstrap) as producer:
        for c in commands:
            producer.send("remediation-commands", c)


def events(bootstrap: str, event_id: str) -> list[dict]:
    return [e for name, e in consume_records(bootstrap, "league-events", timeout=1.5) if e.get("event_id") == event_id]


def test_shed_load_signals_the_child_and_scale_up_becomes_a_league_event(broker, tmp_path):
    server = f"srv-{uuid.uuid4().hex[:6]}"
    out = tmp_path / "child.log"
    lines = lambda: out.read_text().split("\n") if out.exists() else []  # noqa: E731
    _, [shed], _ = remediate(None, high_cpu(server, "critical"))  # a critical one only sheds load ...
    _, [scale_up], _ = remediate(None, high_cpu(server, "warning"))  # ... a warning asks for a scale-up
    assert (shed["action"], scale_up["action"]) == ("shed_load", "request_scale_up")
    env = {"WIREREPORT_DATA_DIR": str(tmp_path)}
    args = ["supervisor", "--server-id", server, "--", sys.executable, "-c", CHILD, str(out)]
    with WirereportProcess(args, bootstrap=broker, env=env) as sup:
        sup.wait_for_output("supervisor ready")
        wait_until(lambda: "start" in out.read_text() if out.exists() else False, 20)
        send(broker, [shed, scale_up, shed, scale_up, escalate(server)])  # each one redelivered
        sup.wait_for_output("ESCALATED command esc-")
        wait_until(lambda: "shed" in lines(), 20)
        assert sup.stop() == 0
    output = sup.output
    assert (
        "shed load: sent SIGUSR1 to league-server pid" in output
        and f"fraction 0.25, command {shed['command_id']}" in output
    )
    assert f"requested scale-up of NBA x1.5 for 900s (event remediation-{scale_up['command_id']}" in output
    assert f"ignored duplicate command {shed['command_id']}" in output
    assert f"ignored duplicate command {scale_up['command_id']}" in output
    assert "restarted" not in output  # the child handled the signal: no restart
    assert lines().count("shed") == 1 and sum(x.startswith("start") for x in lines()) == 1
    [event] = events(broker, f"remediation-{scale_up['command_id']}")
    assert event["kind"] == "remediation_scale_up" and event["league"] == "NBA"
    assert event["multiplier"] == 1.5 and event["duration_seconds"] == 900
    assert abs((event["starts_at"] - scale_up["issued_at"]).total_seconds()) < 0.001


def test_shed_load_command_and_configured_league_and_multiplier(broker, tmp_path):
    server = f"srv-{uuid.uuid4().hex[:6]}"
    out, shed_out = tmp_path / "child.log", tmp_path / "shed.json"
    _, [shed], _ = remediate(None, high_cpu(server, "critical", league=None))  # the alert knew no league
    _, [scale_up], _ = remediate(None, high_cpu(server, "warning", league=None))
    script = (
        "import json, os, sys; json.dump({k: v for k, v in os.environ.items() if k in "
        "('WIREREPORT_SHED_FRACTION', 'WIREREPORT_SERVER_ID', 'WIREREPORT_COMMAND_ID', 'WIREREPORT_CHILD_PID')},"
        " open(sys.argv[1], 'w'))"
    )
    shed_cmd = f"{sys.executable} -c {json.dumps(script)} {shed_out}"
    env = {"WIREREPORT_DATA_DIR": str(tmp_path), "WIREREPORT_REMEDIATION_SCALE_UP_MULTIPLIER": "2.0"}
    args = ["supervisor", "--server-id", server, "--league", "wnba", "--scale-up-duration", "600"]
    args += ["--shed-load-cmd", shed_cmd, "--", sys.executable, "-c", CHILD, str(out)]
    with WirereportProcess(args, bootstrap=broker, env=env) as sup:
        sup.wait_for_output("supervisor ready")
        send(broker, [shed, scale_up])
        sup.wait_for_output("requested scale-up of WNBA x2 for 600s")
        sup.wait_for_output("shed load: ran")
        assert sup.stop() == 0
    ran = json.loads(shed_out.read_text())
    assert ran["WIREREPORT_SHED_FRACTION"] == "0.25" and ran["WIREREPORT_COMMAND_ID"] == shed["command_id"]
    assert ran["WIREREPORT_SERVER_ID"] == server and ran["WIREREPORT_CHILD_PID"].isdigit()
    assert "shed" not in out.read_text()  # a command, not a signal
    [event] = events(broker, f"remediation-{scale_up['command_id']}")
    assert (event["league"], event["multiplier"], event["duration_seconds"]) == ("WNBA", 2.0, 600)
