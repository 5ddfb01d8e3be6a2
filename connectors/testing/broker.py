"""A throwaway embedded broker with every declared topic created; optionally behind TLS and SASL."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from connectors.kafka.admin import create_topics
from connectors.kafka.broker import EmbeddedBroker, free_port
from connectors.testing.kafka_front import KafkaFront


@contextmanager
def running_broker(create: bool = True) -> Iterator[str]:
    """Start Tansu on a free port, create the topics, yield the bootstrap address, stop it afterwards."""
    with EmbeddedBroker(free_port()) as broker:
        if create:
            create_topics(broker.bootstrap)
        yield broker.bootstrap


@dataclass(frozen=True)
class TestCertificates:
    """PEM files of a throwaway CA, a server certificate for 127.0.0.1/localhost and a client certificate."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path  # encrypted with ``client_key_password``
    client_key_password: str


def make_certificates(directory: Path) -> TestCertificates:
    """Generate the CA and the certificates it signs into ``directory`` (valid for one day)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.UTC)

    def name(common: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])

    def certificate(subject: str, key, issuer: str, issuer_key, extensions) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(name(subject))
            .issuer_name(name(issuer))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
        )
        for extension, critical in extensions:
            builder = builder.add_extension(extension, critical=critical)
        return builder.sign(issuer_key, hashes.SHA256())

    def write(path: Path, data: bytes) -> Path:
        path.write_bytes(data)
        return path

    directory.mkdir(parents=True, exist_ok=True)
    ca_key, server_key, client_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    ca = certificate("wirereport test CA", ca_key, "wirereport test CA", ca_key, [
        (x509.BasicConstraints(ca=True, path_length=None), True),
        (x509.KeyUsage(True, False, False, False, False, True, True, False, False), True),
    ])  # fmt: skip
    server = certificate("localhost", server_key, "wirereport test CA", ca_key, [
        (x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
         False),
        (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False),
    ])  # fmt: skip
    client = certificate("wirereport-client", client_key, "wirereport test CA", ca_key, [
        (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False),
    ])  # fmt: skip
    pem = serialization.Encoding.PEM
    password = "client-key-secret"

    def key_pem(key, encryption) -> bytes:
        return key.private_bytes(pem, serialization.PrivateFormat.PKCS8, encryption)

    return TestCertificates(
        ca=write(directory / "ca.pem", ca.public_bytes(pem)),
        server_cert=write(directory / "server.pem", server.public_bytes(pem)),
        server_key=write(directory / "server.key", key_pem(server_key, serialization.NoEncryption())),
        client_cert=write(directory / "client.pem", client.public_bytes(pem)),
        client_key=write(
            directory / "client.key", key_pem(client_key, serialization.BestAvailableEncryption(password.encode()))
        ),
        client_key_password=password,
    )


@dataclass(frozen=True)
class SecuredBroker:
    """A running broker behind a TLS/SASL front: where clients connect and the ``WIREREPORT_*`` they need."""

    bootstrap: str  # the front: where clients connect (Tansu advertises it)
    env: dict[str, str]  # the WIREREPORT_KAFKA_* variables of a client that is let in

    def settings(self):
        """Settings of a client with :attr:`env` (and this broker as its bootstrap)."""
        from streams.settings import Settings

        values = {name.removeprefix("WIREREPORT_").lower(): value for name, value in self.env.items()}
        return Settings(_env_file=None, kafka_bootstrap=self.bootstrap, **values)


def _create_topics_through_front(front: SecuredBroker) -> None:
    """Every declared topic, created as a client with ``front.env`` (the broker advertises only the front)."""
    from confluent_kafka.admin import AdminClient, NewTopic

    from streams.runtime.kafka_security import confluent_security_config
    from streams.topics import TOPICS

    admin = AdminClient({"bootstrap.servers": front.bootstrap, **confluent_security_config(front.settings())})
    new = [
        NewTopic(s.name, s.partitions, 1, config={"cleanup.policy": "compact"} if s.compacted else {})
        for s in TOPICS.values()
    ]
    for future in admin.create_topics(new, operation_timeout=15).values():
        future.result(30)


@contextmanager
def secured_broker(
    protocol: str,
    directory: Path,
    mechanism: str | None = None,
    users: Mapping[str, str] | None = None,
    client_certificate: bool = False,
    create: bool = True,
) -> Iterator[SecuredBroker]:
    """Tansu behind a :class:`KafkaFront` serving ``protocol`` (SSL, SASL_PLAINTEXT or SASL_SSL).

    SASL protocols let in ``users`` (name -> password; default one user ``wirereport``); ``env`` carries the first
    user's credentials and ``mechanism``. TLS uses certificates generated in ``directory``; with
    ``client_certificate`` the front also requires a client certificate (mutual TLS).
    """
    uses_sasl, uses_tls = protocol.startswith("SASL_"), protocol.endswith("SSL")
    users = dict(users or {"wirereport": "wirereport-secret"}) if uses_sasl else None
    env = {"WIREREPORT_KAFKA_SECURITY_PROTOCOL": protocol}
    if users is not None:
        username, password = next(iter(users.items()))
        env |= {
            "WIREREPORT_KAFKA_SASL_MECHANISM": mechanism or "SCRAM-SHA-256",
            "WIREREPORT_KAFKA_SASL_USERNAME": username,
            "WIREREPORT_KAFKA_SASL_PASSWORD": password,
        }
    server_tls = None
    if uses_tls:
        certs = make_certificates(directory)
        server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server_tls.load_cert_chain(certs.server_cert, certs.server_key)
        env["WIREREPORT_KAFKA_SSL_CA_FILE"] = str(certs.ca)
        if client_certificate:
            server_tls.verify_mode = ssl.CERT_REQUIRED
            server_tls.load_verify_locations(certs.ca)
            env |= {
                "WIREREPORT_KAFKA_SSL_CERT_FILE": str(certs.client_cert),
                "WIREREPORT_KAFKA_SSL_KEY_FILE": str(certs.client_key),
                "WIREREPORT_KAFKA_SSL_KEY_PASSWORD": certs.client_key_password,
            }
    front_port = free_port()
    with (
        EmbeddedBroker(free_port(), advertised=f"127.0.0.1:{front_port}") as broker,
        KafkaFront((broker.host, broker.port), front_port, tls=server_tls, users=users) as front,
    ):
        secured = SecuredBroker(bootstrap=front.bootstrap, env=env)
        if create:
            _create_topics_through_front(secured)
        yield secured
