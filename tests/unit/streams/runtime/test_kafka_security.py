"""The mapping from WIREREPORT_KAFKA_* settings to confluent-kafka, aiokafka and Faust, and its validation."""

from __future__ import annotations

import ssl

import faust
import pytest
from pydantic import ValidationError

from streams.runtime.kafka_security import (
    aiokafka_security_kwargs,
    confluent_security_config,
    describe,
    faust_credentials,
    ssl_context,
)
from streams.settings import Settings


def settings(**values) -> Settings:
    return Settings(_env_file=None, **values)


@pytest.fixture
def ca_file(tmp_path):
    from connectors.testing.broker import make_certificates

    return make_certificates(tmp_path)


SCRAM = {
    "kafka_security_protocol": "SASL_SSL",
    "kafka_sasl_mechanism": "SCRAM-SHA-512",
    "kafka_sasl_username": "svc",
    "kafka_sasl_password": "pw",
}


def test_plaintext_adds_nothing_to_any_client():
    s = settings()
    assert (confluent_security_config(s), aiokafka_security_kwargs(s), faust_credentials(s), ssl_context(s)) == (
        {},
        {},
        None,
        None,
    )


def test_sasl_ssl_scram_maps_to_librdkafka_properties(ca_file):
    s = settings(**SCRAM, kafka_ssl_ca_file=ca_file.ca)
    assert confluent_security_config(s) == {
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "svc",
        "sasl.password": "pw",
        "ssl.ca.location": str(ca_file.ca),
        "ssl.endpoint.identification.algorithm": "https",
    }
    assert describe(s) == "SASL_SSL SCRAM-SHA-512 as 'svc'"


def test_mutual_tls_maps_certificate_key_and_hostname_check(ca_file):
    s = settings(
        kafka_security_protocol="SSL",
        kafka_ssl_ca_file=ca_file.ca,
        kafka_ssl_cert_file=ca_file.client_cert,
        kafka_ssl_key_file=ca_file.client_key,
        kafka_ssl_key_password=ca_file.client_key_password,
        kafka_ssl_check_hostname=False,
    )
    assert confluent_security_config(s) == {
        "security.protocol": "SSL",
        "ssl.ca.location": str(ca_file.ca),
        "ssl.certificate.location": str(ca_file.client_cert),
        "ssl.key.location": str(ca_file.client_key),
        "ssl.key.password": ca_file.client_key_password,
        "ssl.endpoint.identification.algorithm": "none",
    }
    context = ssl_context(s)
    assert (context.verify_mode, context.check_hostname) == (ssl.CERT_REQUIRED, False)
    credentials = faust_credentials(s)
    assert isinstance(credentials, faust.SSLCredentials)
    assert credentials.context.verify_mode == ssl.CERT_REQUIRED
    assert aiokafka_security_kwargs(s)["security_protocol"] == "SSL"


def test_sasl_maps_to_aiokafka_and_faust(ca_file):
    s = settings(**SCRAM, kafka_ssl_ca_file=ca_file.ca)
    kwargs = aiokafka_security_kwargs(s)
    assert {k: v for k, v in kwargs.items() if k != "ssl_context"} == {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "svc",
        "sasl_plain_password": "pw",
    }
    assert kwargs["ssl_context"].check_hostname is True
    credentials = faust_credentials(s)
    assert isinstance(credentials, faust.SASLCredentials)
    assert (credentials.username, credentials.password, credentials.mechanism.value) == ("svc", "pw", "SCRAM-SHA-512")
    assert credentials.protocol.value == "SASL_SSL"
    plaintext_sasl = settings(**{**SCRAM, "kafka_security_protocol": "SASL_PLAINTEXT"})
    assert faust_credentials(plaintext_sasl).protocol.value == "SASL_PLAINTEXT"
    assert "ssl_context" not in aiokafka_security_kwargs(plaintext_sasl)


def problems(**values) -> dict[str, str]:
    with pytest.raises(ValidationError) as info:
        settings(**values)
    return {".".join(map(str, e["loc"])): e["msg"] for e in info.value.errors()}


def test_sasl_protocol_without_mechanism_or_user_names_each_variable():
    assert problems(kafka_security_protocol="SASL_SSL") == {
        "kafka_sasl_mechanism": "required when WIREREPORT_KAFKA_SECURITY_PROTOCOL is SASL_SSL",
        "kafka_sasl_username": "required when WIREREPORT_KAFKA_SECURITY_PROTOCOL is SASL_SSL",
        "kafka_sasl_password": "required when WIREREPORT_KAFKA_SECURITY_PROTOCOL is SASL_SSL",
    }


def test_settings_the_protocol_does_not_use_are_refused(ca_file):
    assert problems(kafka_sasl_username="svc", kafka_ssl_ca_file=ca_file.ca) == {
        "kafka_sasl_username": "set, but WIREREPORT_KAFKA_SECURITY_PROTOCOL is PLAINTEXT, which does not use it",
        "kafka_ssl_ca_file": "set, but WIREREPORT_KAFKA_SECURITY_PROTOCOL is PLAINTEXT, which does not use it",
    }


def test_missing_files_and_half_a_client_certificate_are_refused(tmp_path, ca_file):
    assert problems(kafka_security_protocol="SSL", kafka_ssl_ca_file=tmp_path / "nope.pem") == {
        "kafka_ssl_ca_file": "Path does not point to a file"
    }
    assert problems(kafka_security_protocol="SSL", kafka_ssl_cert_file=ca_file.client_cert) == {
        "kafka_ssl_key_file": "a client certificate needs both the _CERT_FILE and the _KEY_FILE"
    }
    assert "kafka_security_protocol" in problems(kafka_security_protocol="TLS")


def test_the_password_never_prints():
    s = settings(**{**SCRAM, "kafka_security_protocol": "SASL_PLAINTEXT"})
    assert "pw" not in repr(s) and "pw" not in describe(s)
