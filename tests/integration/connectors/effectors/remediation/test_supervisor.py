"""The supervisor restarts a real child process on a restart_process command, once per command id."""

from __future__ import annotations

import os
import sys
import uuid
from datetime import UTC, datetime

from connectors.kafka.edge import EdgeProducer
from connectors.testing import WirereportProcess, wait_until


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead too
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False


def command(server: str, cid: str, action: str = "restart_process") -> dict:
    return {
        "command_id": cid,
        "server_id": server,
        "action": action,
        "target": "league-server",
        "reason": "ServerDown critical: test",
        "alert_fingerprint": None,
        "issued_at": datetime.now(UTC),
        "parameters": {},
    }


def test_restart_on_command_dedupe_and_stop(broker, tmp_path):
    server = f"srv-{uuid.uuid4().hex[:6]}"
    pids = tmp_path / "pids"
    child = [
        sys.executable,
        "-c",
        f"import os,time; open({str(pids)!r},'a').write(f'{{os.getpid()}}\\n'); time.sleep(600)",
    ]
    read = lambda: [int(x) for x in pids.read_text().split()] if pids.exists() else []  # noqa: E731
    env = {"WIREREPORT_DATA_DIR": str(tmp_path)}
    with WirereportProcess(["supervisor", "--server-id", server, "--", *child], bootstrap=broker, env=env) as sup:
        sup.wait_for_output("supervisor ready")
        wait_until(lambda: len(read()) == 1, 20)
        first = read()[0]
        with EdgeProducer(broker) as producer:
            producer.send("remediation-commands", command("another-server", "c-other"))
            producer.send("remediation-commands", command(server, "c-1"))
        sup.wait_for_output("restarted league-server")
        wait_until(lambda: len(read()) == 2, 20)
        assert not alive(first) and alive(read()[1])
        with EdgeProducer(broker) as producer:  # redelivered: no second restart
            producer.send("remediation-commands", command(server, "c-1"))
            producer.send("remediation-commands", command(server, "c-2", action="drain_cache"))
        sup.wait_for_output("c-2 drain_cache")
        assert "ignored duplicate command c-1" in sup.output
        assert len(read()) == 2
        assert sup.stop() == 0
    assert "supervisor stopped (1 restart(s))" in sup.output
    assert not alive(read()[1])
    # a restarted supervisor resumes after the commands it has done: no replayed restart
    with WirereportProcess(["supervisor", "--server-id", server, "--", *child], bootstrap=broker, env=env) as sup:
        sup.wait_for_output("supervisor ready")
        wait_until(lambda: len(read()) == 3, 20)
        with EdgeProducer(broker) as producer:
            producer.send("remediation-commands", command(server, "c-3"))
        sup.wait_for_output("command c-3")
        # the new child writes its pid once its interpreter is up: wait for it before stopping the supervisor
        wait_until(lambda: len(read()) == 4, 20)
        assert "c-1" not in sup.output
        assert sup.stop() == 0
    assert len(read()) == 4


def test_child_that_dies_is_restarted(broker, tmp_path):
    marker = tmp_path / "runs"
    child = [sys.executable, "-c", f"open({str(marker)!r},'a').write('x'); raise SystemExit(3)"]
    with WirereportProcess(
        ["supervisor", "--server-id", "crashy", "--", *child],
        bootstrap=broker,
        env={"WIREREPORT_DATA_DIR": str(tmp_path)},
    ) as sup:
        sup.wait_for_output("exited with status 3")
        wait_until(lambda: marker.exists() and len(marker.read_text()) >= 2, 20)
        assert sup.stop() == 0
