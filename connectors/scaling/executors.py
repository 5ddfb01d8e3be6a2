"""Executors carry out a league's desired agent count: local worker processes, or a Kubernetes Deployment."""

from __future__ import annotations

import logging
import os
import shlex
import signal
import subprocess
import sys
from pathlib import Path
from typing import Protocol

import httpx

from connectors.exceptions import ConnectorError

log = logging.getLogger(__name__)

DEFAULT_WORKER = (
    f"{shlex.quote(sys.executable)} -m connectors.cli.main agent-worker --league {{league}} --index {{index}}"
)
SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")


class ScaleError(ConnectorError):
    """The executor could not apply a scaling command."""


class Executor(Protocol):
    def scale(self, league: str, agents: int) -> None:
        """Make ``league`` run ``agents`` workers."""

    def current(self, league: str) -> int | None:
        """Workers ``league`` runs now (None if the executor cannot tell); ``ScaleError`` if it cannot be read."""

    def close(self) -> None:
        """Release resources (local workers are stopped)."""


class LocalProcessExecutor:
    """N local copies of a worker command per league (``{league}``/``{index}`` are filled in); converges to N."""

    def __init__(self, command: str | None = None, env: dict[str, str] | None = None, stop_timeout: float = 10.0):
        self.command = command or DEFAULT_WORKER
        self.env = {**os.environ, **(env or {})}
        self.stop_timeout = stop_timeout
        self.desired: dict[str, int] = {}
        self.pools: dict[str, list[subprocess.Popen]] = {}

    def scale(self, league: str, agents: int) -> None:
        self.desired[league] = max(0, int(agents))
        self.converge(league)

    def current(self, league: str) -> int:
        pool = self.pools.get(league, [])
        pool[:] = [p for p in pool if p.poll() is None]
        return len(pool)

    def pids(self, league: str) -> list[int]:
        self.current(league)
        return [p.pid for p in self.pools.get(league, [])]

    def converge(self, league: str | None = None) -> None:
        """Start or stop workers until each league runs its desired count (restarts crashed ones)."""
        for name in [league] if league else list(self.desired):
            pool = self.pools.setdefault(name, [])
            running = self.current(name)
            want = self.desired.get(name, 0)
            while running < want:
                index = running
                args = shlex.split(self.command.format(league=name, index=index))
                try:
                    proc = subprocess.Popen(args, env=self.env, stdout=subprocess.DEVNULL, start_new_session=True)
                except OSError as exc:
                    raise ScaleError(f"cannot start worker {args[0]!r}: {exc}") from None
                pool.append(proc)
                running += 1
            while running > want:
                self._stop(pool.pop())
                running -= 1

    def _stop(self, proc: subprocess.Popen) -> None:
        if proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(self.stop_timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)

    def close(self) -> None:
        for league in list(self.pools):
            self.desired[league] = 0
            self.converge(league)


class KubernetesExecutor:
    """Patches ``spec.replicas`` of the league's Deployment through the Kubernetes API (JSON merge patch)."""

    def __init__(
        self,
        api_url: str | None = None,
        token: str | None = None,
        namespace: str = "default",
        deployment: str = "wirereport-{league}",
        ca_file: str | None = None,
        timeout: float = 10.0,
    ):
        in_cluster = api_url is None
        if in_cluster:
            host, port = os.environ.get("KUBERNETES_SERVICE_HOST"), os.environ.get("KUBERNETES_SERVICE_PORT", "443")
            if not host:
                raise ScaleError("no Kubernetes API: set WIREREPORT_K8S_API_URL or run inside a cluster")
            api_url = f"https://{host}:{port}"
        if token is None and (SERVICE_ACCOUNT / "token").exists():
            token = (SERVICE_ACCOUNT / "token").read_text().strip()
        if ca_file is None and in_cluster and (SERVICE_ACCOUNT / "ca.crt").exists():
            ca_file = str(SERVICE_ACCOUNT / "ca.crt")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.namespace = namespace
        self.deployment = deployment
        self.replicas: dict[str, int] = {}
        self._client = httpx.Client(
            base_url=api_url.rstrip("/"), headers=headers, timeout=timeout, verify=ca_file if ca_file else True
        )

    def _path(self, league: str) -> str:
        name = self.deployment.format(league=league.lower())
        return f"/apis/apps/v1/namespaces/{self.namespace}/deployments/{name}"

    def scale(self, league: str, agents: int) -> None:
        try:
            response = self._client.patch(
                self._path(league),
                content=f'{{"spec":{{"replicas":{int(agents)}}}}}',
                headers={"Content-Type": "application/merge-patch+json"},
            )
        except httpx.HTTPError as exc:
            raise ScaleError(f"Kubernetes API unreachable: {exc}") from None
        if response.status_code >= 300:
            raise ScaleError(f"Kubernetes refused to scale {self._path(league)}: HTTP {response.status_code}")
        self.replicas[league] = int(agents)

    def current(self, league: str) -> int:
        """The Deployment's ``spec.replicas`` as the API has it now (someone else may have changed it)."""
        try:
            response = self._client.get(self._path(league))
        except httpx.HTTPError as exc:
            raise ScaleError(f"Kubernetes API unreachable: {exc}") from None
        if response.status_code >= 300:
            raise ScaleError(f"Kubernetes refused to read {self._path(league)}: HTTP {response.status_code}")
        try:
            replicas = int((response.json().get("spec") or {}).get("replicas", 1))
        except (ValueError, TypeError, AttributeError) as exc:
            raise ScaleError(f"unreadable Deployment {self._path(league)}: {exc}") from None
        self.replicas[league] = replicas
        return replicas

    def close(self) -> None:
        self._client.close()
