"""The default deployment executor: check out a version (git tag) in a working copy and run a restart command.

``apply`` fetches (when the working copy has a remote), checks the tag out (detached), runs the restart
command and, if any step fails, goes back to the previous version (checkout + restart) before reporting.
The restart command runs through the shell in the working copy with ``WIREREPORT_DEPLOY_VERSION`` and
``WIREREPORT_DEPLOY_PREVIOUS_VERSION`` set.
"""

from __future__ import annotations

import logging
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from connectors.exceptions import ConnectorError, InputError

log = logging.getLogger(__name__)

# variables that would point git at another repository than the one we were given
_GIT_ENV_LEAKS = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "GIT_COMMON_DIR")


class ExecutorError(ConnectorError):
    """A deployment step (fetch, checkout, restart) failed."""


@dataclass(frozen=True)
class ApplyResult:
    """Outcome of a deploy or rollback: ``ok``, the version now running, the one before, and what happened."""

    ok: bool
    version: str | None
    previous_version: str | None
    detail: str


def _tail(text: str, limit: int = 300) -> str:
    text = " | ".join(line.strip() for line in text.strip().splitlines()[-3:] if line.strip())
    return text[-limit:]


class GitExecutor:
    """Deploys versions of a git working copy."""

    def __init__(self, repo: Path | str, restart_cmd: str | None = None, timeout: float = 300.0):
        self.repo = Path(repo).resolve()
        self.restart_cmd = restart_cmd
        self.timeout = timeout
        if not (self.repo / ".git").exists():
            raise InputError(f"{self.repo} is not a git working copy (no .git)")
        self._env = {k: v for k, v in os.environ.items() if k not in _GIT_ENV_LEAKS}
        self._env["GIT_TERMINAL_PROMPT"] = "0"

    def _git(self, *args: str) -> str:
        try:
            done = subprocess.run(
                ["git", "-c", "advice.detachedHead=false", *args],
                cwd=self.repo,
                env=self._env,
                capture_output=True,
                text=True,
                timeout=self.timeout,
            )
        except subprocess.TimeoutExpired:
            raise ExecutorError(f"git {args[0]} timed out after {self.timeout:.0f}s") from None
        if done.returncode != 0:
            raise ExecutorError(f"git {args[0]} failed: {_tail(done.stderr or done.stdout)}")
        return done.stdout.strip()

    def current_version(self) -> str | None:
        """The tag checked out (if HEAD is exactly at a tag), else the commit id; None in an empty repository."""
        try:
            tags = self._git("tag", "--points-at", "HEAD", "--sort=-creatordate").splitlines()
            return tags[0] if tags else self._git("rev-parse", "HEAD")
        except ExecutorError:
            return None

    def fetch(self) -> None:
        """``git fetch`` every remote with tags (nothing to do without a remote)."""
        if self._git("remote"):
            self._git("fetch", "--all", "--tags", "--force", "--quiet")

    def checkout(self, version: str) -> None:
        try:
            self._git("rev-parse", "--verify", "--quiet", f"{version}^{{commit}}")
        except ExecutorError:
            raise ExecutorError(f"version {version!r} not found in {self.repo}") from None
        self._git("checkout", "--quiet", "--detach", version)

    def restart(self, version: str, previous: str | None) -> None:
        if not self.restart_cmd:
            return
        env = {**self._env, "WIREREPORT_DEPLOY_VERSION": version, "WIREREPORT_DEPLOY_PREVIOUS_VERSION": previous or ""}
        try:
            done = subprocess.run(
                self.restart_cmd,
                shell=True,
                cwd=self.repo,
                env=env,
                capture_output=True,
                text=True,
                timeout=self.timeout,
            )
        except subprocess.TimeoutExpired:
            raise ExecutorError(f"restart command timed out after {self.timeout:.0f}s") from None
        if done.returncode != 0:
            raise ExecutorError(f"restart command exited {done.returncode}: {_tail(done.stderr or done.stdout)}")

    def _switch(self, version: str, previous: str | None) -> None:
        self.checkout(version)
        self.restart(version, previous)

    def apply(self, version: str, previous: str | None = None) -> ApplyResult:
        """Deploy ``version``; on failure return to ``previous`` (default: what is checked out now)."""
        previous = previous or self.current_version()
        try:
            self.fetch()
            self._switch(version, previous)
        except ExecutorError as exc:
            detail = f"deploy of {version} failed: {exc}"
            if previous is None:
                return ApplyResult(False, self.current_version(), previous, detail + "; no previous version to restore")
            try:
                self._switch(previous, version)
            except ExecutorError as exc2:
                return ApplyResult(
                    False, self.current_version(), previous, f"{detail}; restoring {previous} failed: {exc2}"
                )
            return ApplyResult(False, previous, previous, f"{detail}; restored {previous}")
        return ApplyResult(True, version, previous, f"{version} checked out and restarted (was {previous})")

    def rollback(self, to_version: str, from_version: str | None = None) -> ApplyResult:
        """Go back to ``to_version`` (checkout + restart)."""
        try:
            self._switch(to_version, from_version)
        except ExecutorError as exc:
            return ApplyResult(False, self.current_version(), from_version, f"rollback to {to_version} failed: {exc}")
        return ApplyResult(True, to_version, from_version, f"rolled back to {to_version} (from {from_version})")
