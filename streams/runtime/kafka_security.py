"""The one mapping from the ``WIREREPORT_KAFKA_*`` security settings to each Kafka client library's configuration.

Three client families talk to the cluster: confluent-kafka (edge producers and consumers, topic admin, metrics
agent) takes a flat config dict; aiokafka (the API's read model, changelog catch-up, benchmarks) takes keyword
arguments with an ``ssl.SSLContext``; Faust (the worker, aiokafka underneath) takes a credentials object. Every
construction site calls one function here, so a protocol, mechanism or certificate is configured once.

With the default ``PLAINTEXT`` every function returns "nothing to add", so clients keep exactly the
configuration they had before security existed.
"""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from faust.types.auth import CredentialsT

    from streams.settings import Settings


def _secret(value: Any) -> str | None:
    return value.get_secret_value() if value is not None else None


def _uses_sasl(settings: Settings) -> bool:
    return settings.kafka_security_protocol.startswith("SASL_")


def _uses_tls(settings: Settings) -> bool:
    return settings.kafka_security_protocol.endswith("SSL")


def confluent_security_config(settings: Settings) -> dict[str, Any]:
    """librdkafka properties for confluent-kafka's ``Producer``, ``Consumer`` and ``AdminClient`` ({} if PLAINTEXT)."""
    if settings.kafka_security_protocol == "PLAINTEXT":
        return {}
    conf: dict[str, Any] = {"security.protocol": settings.kafka_security_protocol}
    if _uses_sasl(settings):
        conf["sasl.mechanism"] = settings.kafka_sasl_mechanism
        conf["sasl.username"] = settings.kafka_sasl_username
        conf["sasl.password"] = _secret(settings.kafka_sasl_password)
    if _uses_tls(settings):
        optional = {
            "ssl.ca.location": settings.kafka_ssl_ca_file,
            "ssl.certificate.location": settings.kafka_ssl_cert_file,
            "ssl.key.location": settings.kafka_ssl_key_file,
            "ssl.key.password": _secret(settings.kafka_ssl_key_password),
        }
        conf.update({key: str(value) for key, value in optional.items() if value is not None})
        conf["ssl.endpoint.identification.algorithm"] = "https" if settings.kafka_ssl_check_hostname else "none"
    return conf


def ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """The TLS context of the aiokafka clients (``None`` unless the protocol is SSL or SASL_SSL).

    The broker's certificate is always verified (against the CA file, or the system CAs); only the host name
    check can be turned off, for brokers reached under a name their certificate does not carry.
    """
    if not _uses_tls(settings):
        return None
    ca_file = settings.kafka_ssl_ca_file
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(ca_file) if ca_file else None)
    context.check_hostname = settings.kafka_ssl_check_hostname
    if settings.kafka_ssl_cert_file is not None:
        context.load_cert_chain(
            str(settings.kafka_ssl_cert_file),
            str(settings.kafka_ssl_key_file),
            password=_secret(settings.kafka_ssl_key_password),
        )
    return context


def aiokafka_security_kwargs(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for ``AIOKafkaConsumer`` / ``AIOKafkaProducer`` ({} if PLAINTEXT)."""
    if settings.kafka_security_protocol == "PLAINTEXT":
        return {}
    kwargs: dict[str, Any] = {"security_protocol": settings.kafka_security_protocol}
    if _uses_tls(settings):
        kwargs["ssl_context"] = ssl_context(settings)
    if _uses_sasl(settings):
        kwargs["sasl_mechanism"] = settings.kafka_sasl_mechanism
        kwargs["sasl_plain_username"] = settings.kafka_sasl_username
        kwargs["sasl_plain_password"] = _secret(settings.kafka_sasl_password)
    return kwargs


def faust_credentials(settings: Settings) -> CredentialsT | None:
    """Faust's ``broker_credentials``: ``SASLCredentials`` / ``SSLCredentials``, or ``None`` for PLAINTEXT."""
    import faust  # here, not at the top: the API imports this module and does not need Faust loaded

    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return None
    if protocol == "SSL":
        return faust.SSLCredentials(ssl_context(settings))
    return faust.SASLCredentials(
        username=settings.kafka_sasl_username,
        password=_secret(settings.kafka_sasl_password),
        mechanism=settings.kafka_sasl_mechanism,
        ssl_context=ssl_context(settings),
    )


def describe(settings: Settings) -> str:
    """How clients connect, for logs and error messages (never the password)."""
    protocol = settings.kafka_security_protocol
    if _uses_sasl(settings):
        return f"{protocol} {settings.kafka_sasl_mechanism} as {settings.kafka_sasl_username!r}"
    return protocol
