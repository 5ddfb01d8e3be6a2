"""Every client family with TLS and SASL over real connections.

The embedded broker (Tansu) cannot serve TLS, and with ``--authentication`` it cannot be given a user, so the
successful cases run through the testing kit's TLS/SASL front (``secured_broker``), which terminates TLS and
answers the SASL exchange before relaying to Tansu. Tansu's own SASL is exercised where it can be: it refuses
unauthenticated clients and SCRAM users it does not know.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys

import pytest

from connectors.exceptions import BrokerUnavailable
from connectors.kafka.admin import create_topics, existing_topics
from connectors.kafka.broker import EmbeddedBroker, free_port
from connectors.kafka.edge import EdgeProducer, consume_raw, consume_records
from connectors.testing import SAMPLE_DATA, WirereportProcess, wait_until
from connectors.testing.broker import secured_broker
from schemas.json_form import from_json
from streams.settings import get_settings
from streams.topics import TOPICS, topic

SASL_PLAIN = ("SASL_PLAINTEXT", "PLAIN")
SASL_SCRAM_256 = ("SASL_PLAINTEXT", "SCRAM-SHA-256")
SASL_SCRAM_512 = ("SASL_PLAINTEXT", "SCRAM-SHA-512")
MUTUAL_TLS = ("SSL", None)
SASL_SSL_SCRAM = ("SASL_SSL", "SCRAM-SHA-256")


@pytest.fixture
def secured(request, tmp_path, monkeypatch):
    """A broker behind the front for ``request.param`` = (protocol, mechanism); this process's settings match it."""
    protocol, mechanism = request.param
    with secured_broker(protocol, tmp_path / "certs", mechanism=mechanism, client_certificate=protocol == "SSL") as b:
        for name, value in {**b.env, "WIREREPORT_KAFKA_BOOTSTRAP": b.bootstrap}.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        yield b
    get_settings.cache_clear()


def cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "connectors.cli.main", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    "secured", [SASL_PLAIN, SASL_SCRAM_256, SASL_SCRAM_512, MUTUAL_TLS, SASL_SSL_SCRAM], indirect=True, ids=str
)
def test_edge_producer_consumer_and_topic_admin_round_trip(secured):
    with EdgeProducer(secured.bootstrap) as producer:
        producer.send_raw(topic("plays"), b"2018090905", b"through the front")
    messages = list(consume_raw(secured.bootstrap, "plays", timeout=2))
    assert [(m.key(), m.value()) for m in messages] == [(b"2018090905", b"through the front")]

    topics = existing_topics(secured.bootstrap)
    assert {name: topics[name] for name in TOPICS} == {name: spec.partitions for name, spec in TOPICS.items()}
    assert create_topics(secured.bootstrap) == []  # all there already: nothing created, nothing failed


@pytest.mark.parametrize("secured", [SASL_PLAIN, SASL_SCRAM_512, MUTUAL_TLS, SASL_SSL_SCRAM], indirect=True, ids=str)
def test_worker_becomes_ready_and_turns_a_play_into_game_state(secured, tmp_path):
    with gzip.open(SAMPLE_DATA / "nfl_2018_week1_sunday.jsonl.gz", "rt") as fh:
        play = from_json("Play", json.loads(fh.readline()))
    env = {**secured.env, "WIREREPORT_APP_ID": "it-security", "WIREREPORT_DATA_DIR": str(tmp_path / "data")}
    with WirereportProcess(["worker"], bootstrap=secured.bootstrap, env=env) as worker:
        worker.wait_for_output("worker ready", timeout=90)
        with EdgeProducer(secured.bootstrap) as producer:
            producer.send("plays", play)
        state = wait_until(
            lambda: next(
                (r for _, r in consume_records(secured.bootstrap, "game-state", timeout=1)
                 if r["game_id"] == play["game_id"]),
                None,
            ),
            timeout=60,
            message=lambda: f"no game-state for the play; worker output:\n{worker.output[-3000:]}",
        )  # fmt: skip
    assert state["last_play_id"] == play["play_id"]
    assert state["plays_seen"] == 1


@pytest.mark.parametrize("secured", [SASL_SSL_SCRAM], indirect=True, ids=str)
def test_a_wrong_password_is_one_clear_error_line(secured):
    env = {**secured.env, "WIREREPORT_KAFKA_BOOTSTRAP": secured.bootstrap, "WIREREPORT_KAFKA_SASL_PASSWORD": "wrong"}
    result = cli(["topics", "create"], env)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"wirereport: error: Kafka at {secured.bootstrap} refused SASL_SSL SCRAM-SHA-256 as")
    assert "SASL authentication error" in lines[0]
    assert "wrong" not in lines[0]  # the password is never printed


@pytest.mark.parametrize("secured", [MUTUAL_TLS], indirect=True, ids=str)
def test_a_broker_certificate_from_another_ca_is_refused(secured, tmp_path):
    from connectors.testing.broker import make_certificates

    other_ca = make_certificates(tmp_path / "other").ca
    env = {
        **secured.env,
        "WIREREPORT_KAFKA_BOOTSTRAP": secured.bootstrap,
        "WIREREPORT_KAFKA_SSL_CA_FILE": str(other_ca),
    }
    result = cli(["topics", "create"], env)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"Kafka at {secured.bootstrap} refused SSL" in lines[0]
    assert "certificate verify failed" in lines[0]


def test_tansu_with_authentication_refuses_plaintext_clients_and_unknown_scram_users(monkeypatch):
    with EmbeddedBroker(free_port(), authentication=True) as broker:
        get_settings.cache_clear()
        with pytest.raises(BrokerUnavailable, match="cannot reach Kafka"):
            existing_topics(broker.bootstrap, timeout=3)

        for name, value in {
            "WIREREPORT_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
            "WIREREPORT_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
            "WIREREPORT_KAFKA_SASL_USERNAME": "nobody",
            "WIREREPORT_KAFKA_SASL_PASSWORD": "secret",
        }.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        with pytest.raises(BrokerUnavailable, match=r"refused SASL_PLAINTEXT SCRAM-SHA-512 as 'nobody'.*unknown-user"):
            existing_topics(broker.bootstrap, timeout=3)
    get_settings.cache_clear()
