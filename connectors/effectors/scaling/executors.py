"""Executors carry out a league's desired agent count: local worker processes, or a Kubernetes Deployment."""

from __future__ import annotations

import errno
import logging
import os
import shlex
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Protocol

import httpx

from connectors.exceptions import ConnectorError, InputError

log = logging.getLogger(__name__)

DEFAULT_WORKER = (
    f"{shlex.quote(sys.executable)} -m connectors.cli.main agent-worker --league {{league}} --index {{index}}"
)
SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")


class ScaleError(ConnectorError):
    """The executor could not apply a scaling command (transient: retrying may succeed)."""


class PermanentScaleError(ScaleError):
    """Retrying cannot help (no such Deployment, forbidden, worker program missing): the command is given up."""


# HTTP 4xx answers that may succeed later: timeout, conflict (concurrent update), rate limit
TRANSIENT_4XX = frozenset({408, 409, 429})
# errors of starting a worker that a retry cannot cure: no such file, not executable, not a directory
PERMANENT_START_ERRNOS = frozenset({errno.ENOENT, errno.EACCES, errno.ENOTDIR, errno.ENOEXEC, errno.EISDIR})


def check_api_url(url: str) -> str:
    """``url`` if it is an http(s) URL with a host; ``InputError`` otherwise."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise InputError(f"Kubernetes API URL {url!r} is not a URL: {exc}") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise InputError(f"Kubernetes API URL {url!r} is not an http(s) URL with a host (e.g. https://10.0.0.1:6443)")
    return url


def worker_program(command: str, league: str) -> str:
    """The program a worker command runs for ``league``; ``InputError`` if the template cannot be filled in."""
    try:
        args = shlex.split(command.format(league=league, index=0))
    except (ValueError, KeyError, IndexError) as exc:
        raise InputError(f"worker command {command!r} is unusable: {exc!r}") from None
    if not args:
        raise InputError("worker command is empty")
    return args[0]


def check_worker_command(command: str, leagues) -> str:
    """``command`` if its program, for each of ``leagues``, is on PATH or an executable file; else ``InputError``."""
    for league in leagues:
        program = worker_program(command, league)
        if shutil.which(program) is None:
            raise InputError(f"worker program {program!r} not found or not executable (worker command {command!r})")
    return command


def _http_error(what: str, status: int) -> ScaleError:
    permanent = 400 <= status < 500 and status not in TRANSIENT_4XX
    return (PermanentScaleError if permanent else ScaleError)(f"Kubernetes refused to {what}: HTTP {status}")


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
                    error = PermanentScaleError if exc.errno in PERMANENT_START_ERRNOS else ScaleError
                    raise error(f"cannot start worker {args[0]!r}: {exc}") from None
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
                raise InputError("no Kubernetes API: set WIREREPORT_K8S_API_URL or run inside a cluster")
            api_url = f"https://{host}:{port}"
        check_api_url(api_url)
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
            raise _http_error(f"scale {self._path(league)}", response.status_code)
        self.replicas[league] = int(agents)

    def current(self, league: str) -> int:
        """The Deployment's ``spec.replicas`` as the API has it now (someone else may have changed it)."""
        try:
            response = self._client.get(self._path(league))
        except httpx.HTTPError as exc:
            raise ScaleError(f"Kubernetes API unreachable: {exc}") from None
        if response.status_code >= 300:
            raise _http_error(f"read {self._path(league)}", response.status_code)
        try:
            replicas = int((response.json().get("spec") or {}).get("replicas", 1))
        except (ValueError, TypeError, AttributeError) as exc:
            raise ScaleError(f"unreadable Deployment {self._path(league)}: {exc}") from None
        self.replicas[league] = replicas
        return replicas

    def close(self) -> None:
        self._client.close()
