"""The git executor and the deployment agent's decision handling on a real git repository."""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connectors.effectors.deployments.agent import DeploymentAgent
from connectors.effectors.deployments.git_executor import GitExecutor
from connectors.exceptions import InputError
from streams.deployments.manager import decision_id

GIT_ENV = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")} | {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.com",
}


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, env=GIT_ENV, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def repo(tmp_path) -> Path:
    """A clone (with a remote) at v1 of an origin with tags v1, v2 and a v3 that only exists on the remote."""
    origin = tmp_path / "origin"
    origin.mkdir()
    git(origin, "init", "-q", "-b", "main")
    for version in ("v1", "v2"):
        (origin / "app.txt").write_text(version)
        git(origin, "add", "app.txt")
        git(origin, "commit", "-q", "-m", version)
        git(origin, "tag", version)
    work = tmp_path / "work"
    git(tmp_path, "clone", "-q", str(origin), str(work))
    git(work, "checkout", "-q", "--detach", "v1")
    (origin / "app.txt").write_text("v3")
    git(origin, "commit", "-q", "-am", "v3")
    git(origin, "tag", "v3")
    return work


def restart_cmd(tmp_path: Path, fail_on: str = "") -> str:
    """A restart script that logs 'VERSION CONTENT' and fails when the version is ``fail_on``."""
    script = tmp_path / "restart.sh"
    script.write_text(
        '#!/bin/sh\necho "$WIREREPORT_DEPLOY_VERSION $(cat app.txt)" >> "$1"\n'
        f'if [ "$WIREREPORT_DEPLOY_VERSION" = "{fail_on}" ]; then echo "boom: health check failed" >&2; exit 3; fi\n'
    )
    return f"sh {script} {tmp_path / 'restarts.log'}"


def test_apply_fetches_checks_out_and_restarts(repo, tmp_path):
    ex = GitExecutor(repo, restart_cmd(tmp_path))
    assert ex.current_version() == "v1"
    result = ex.apply("v3")  # v3 only exists on the remote: needs the fetch
    assert result.ok and result.version == "v3" and result.previous_version == "v1"
    assert (repo / "app.txt").read_text() == "v3"
    assert ex.current_version() == "v3"
    assert (tmp_path / "restarts.log").read_text().splitlines() == ["v3 v3"]


def test_failed_restart_goes_back_to_the_previous_version(repo, tmp_path):
    ex = GitExecutor(repo, restart_cmd(tmp_path, fail_on="v2"))
    result = ex.apply("v2")
    assert not result.ok
    assert "restart command exited 3: boom: health check failed" in result.detail
    assert result.detail.endswith("restored v1")
    assert ex.current_version() == "v1" and (repo / "app.txt").read_text() == "v1"
    assert (tmp_path / "restarts.log").read_text().splitlines() == ["v2 v2", "v1 v1"]


def test_unknown_version_fails_cleanly(repo, tmp_path):
    result = GitExecutor(repo, restart_cmd(tmp_path)).apply("v9")
    assert not result.ok and "version 'v9' not found" in result.detail
    assert (repo / "app.txt").read_text() == "v1"


def test_not_a_working_copy(tmp_path):
    with pytest.raises(InputError, match="not a git working copy"):
        GitExecutor(tmp_path)


def decision(action: str, dep="d1", server="s1", version="v2", previous="v1", age_s=0.0) -> dict:
    return {
        "decision_id": decision_id(dep, server, action, action),
        "deployment_id": dep,
        "server_id": server,
        "league": "NBA",
        "version": version,
        "action": action,
        "phase": "canary",
        "reason": "test",
        "previous_version": previous,
        "canary": True,
        "decided_at": datetime.now(UTC) - timedelta(seconds=age_s),
    }


@pytest.fixture
def agent_factory(broker, repo, tmp_path):
    def make(fail_on: str = "") -> DeploymentAgent:
        ex = GitExecutor(repo, restart_cmd(tmp_path, fail_on))
        return DeploymentAgent(broker, "s1", ex, tmp_path / "agent.json", backlog_seconds=600, echo=lambda _: None)

    return make


def test_agent_deploys_dedupes_and_rolls_back(agent_factory, repo):
    agent = agent_factory()
    deploy = decision("deploy")
    report = agent.carry_out(deploy)
    assert report["status"] == "applied" and report["version"] == "v2" and report["previous_version"] == "v1"
    assert report["decision_id"] == deploy["decision_id"] and report["kind"] == "report"
    agent.state.done[deploy["decision_id"]] = report["status"]
    assert agent.carry_out(deploy) is None  # redelivered: not applied twice
    assert agent.carry_out(decision("hold", server="*")) is None
    assert agent.carry_out(decision("deploy", server="s2")) is None  # another server's decision
    report = agent.carry_out(decision("rollback"))
    assert report["status"] == "rolled_back" and report["version"] == "v1"
    assert (repo / "app.txt").read_text() == "v1"


def test_agent_reports_failure_after_restoring_the_old_version(agent_factory, repo):
    report = agent_factory(fail_on="v2").carry_out(decision("deploy"))
    assert report["status"] == "failed" and report["version"] == "v1"
    assert "restored v1" in report["detail"]
    assert (repo / "app.txt").read_text() == "v1"


def test_write_ahead_journal_survives_a_crash_between_apply_and_report(agent_factory, repo):
    agent = agent_factory()
    agent.carry_out(decision("deploy"))  # applied, but "crashed" before the report and the done-mark
    restarted = agent_factory()
    assert restarted.carry_out(decision("deploy"))["previous_version"] == "v1"  # not v2
    report = restarted.carry_out(decision("rollback", previous=None))
    assert report["status"] == "rolled_back" and (repo / "app.txt").read_text() == "v1"


def test_rollback_without_a_deploy_is_a_no_op(agent_factory, repo):
    report = agent_factory().carry_out(decision("rollback", dep="never-applied"))
    assert report["status"] == "rolled_back" and "nothing to undo" in report["detail"]
    assert (repo / "app.txt").read_text() == "v1"


def test_a_new_agent_skips_old_history(agent_factory, repo):
    agent = agent_factory()
    assert agent.carry_out(decision("deploy", age_s=3600)) is None
    assert agent.state.done[decision("deploy")["decision_id"]] == "stale"
    assert (repo / "app.txt").read_text() == "v1"
