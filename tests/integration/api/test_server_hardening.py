"""Hardening of a real ``wirereport api`` server: a head deadline for slow clients, 413 for a chunked body over
the limit, and a token revoked with ``wirereport auth revoke`` refused once the API has read the revocation."""

from __future__ import annotations

import socket
from urllib.parse import urlparse

import jwt
import pytest

from connectors.cli.main import main
from connectors.testing import wait_until
from streams.settings import get_settings
from tests.integration.api.test_server import bearer, start_api


@pytest.fixture(scope="module")
def hardened(broker):
    proc, client = start_api(broker, WIREREPORT_API_REQUEST_TIMEOUT="1", WIREREPORT_API_MAX_BODY_BYTES="1000")
    yield client
    client.close()
    assert proc.stop() == 0, proc.output[-2000:]


def test_a_client_that_never_finishes_its_head_is_disconnected(hardened):
    url = urlparse(str(hardened.base_url))
    with socket.create_connection((url.hostname, url.port), timeout=20) as sock:
        sock.sendall(b"GET /v1/games HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
        assert sock.recv(1024) == b""  # closed by the server, without an answer


def test_a_chunked_body_over_the_limit_is_413(hardened):
    def chunks():
        for _ in range(4):
            yield b"x" * 400

    r = hardened.post("/v1/silences", headers=bearer("admin"), content=chunks())
    assert r.status_code == 413 and r.json()["error"] == "payload_too_large"


def test_a_token_revoked_from_the_command_line_is_refused(hardened, broker, monkeypatch, capsys):
    headers = bearer("read", subject="leaver")
    assert hardened.get("/v1/games", headers=headers).status_code == 200
    jti = jwt.decode(headers["Authorization"].split()[1], options={"verify_signature": False})["jti"]
    monkeypatch.setenv("WIREREPORT_KAFKA_BOOTSTRAP", broker)
    get_settings.cache_clear()
    try:
        assert main(["auth", "revoke", jti, "--reason", "left"]) == 0
    finally:
        get_settings.cache_clear()
    assert capsys.readouterr().out.strip() == f"revoked {jti}"
    wait_until(lambda: hardened.get("/v1/games", headers=headers).status_code == 401, 20, message="never revoked")
    assert hardened.get("/v1/games", headers=headers).json()["detail"] == "token revoked"
