"""The supervisor's restart backoff: it grows while the child keeps dying at once, and starts over once it ran."""

from __future__ import annotations

import sys

from connectors.effectors.remediation.supervisor import Supervisor


def test_backoff_doubles_in_a_crash_loop_and_starts_over_after_a_stable_run(tmp_path):
    now = [0.0]
    sleeps: list[float] = []
    lines: list[str] = []
    sup = Supervisor(
        "127.0.0.1:1",  # never contacted: only the child is exercised
        "s1",
        [sys.executable, "-c", "raise SystemExit(3)"],
        tmp_path / "supervisor.json",
        echo=lines.append,
        stable_seconds=10.0,
        clock=lambda: now[0],
        sleep=sleeps.append,
    )

    def died_after(seconds: float) -> None:
        sup.child.wait(30)
        now[0] += seconds
        sup._watch_child()

    try:
        sup.start_child()
        for uptime in (0.5, 0.5, 0.5):  # a crash loop: 1, 2, 4 s
            died_after(uptime)
        died_after(12.0)  # ran longer than stable_seconds: stopped on purpose (a deploy), not a crash loop
        died_after(0.5)
    finally:
        sup.stop_child()
    assert sleeps == [1.0, 2.0, 4.0, 1.0, 2.0]
    assert sup.restarts == 5
    assert all(line.endswith("(exited with status 3)") for line in lines)
