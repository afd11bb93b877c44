"""One set of PULSE_KAFKA_* settings, translated for each Kafka client library."""

from __future__ import annotations

import ssl

import faust

from pipeline.app.settings import load_settings
from pipeline.runtime.kafka_clients import (
    aiokafka_options,
    faust_credentials,
    kafka_python_options,
    librdkafka_config,
)

SASL_SSL = {
    "kafka_bootstrap": "k1:9093,k2:9093",
    "kafka_security_protocol": "SASL_SSL",
    "kafka_sasl_mechanism": "SCRAM-SHA-512",
    "kafka_sasl_username": "pulse",
    "kafka_sasl_password": "pw",
}


def test_plaintext_needs_nothing_but_the_protocol() -> None:
    settings = load_settings(kafka_security_protocol="PLAINTEXT")
    assert kafka_python_options(settings) == {"security_protocol": "PLAINTEXT"}
    assert aiokafka_options(settings) == {"security_protocol": "PLAINTEXT"}
    assert faust_credentials(settings) is None


def test_sasl_ssl_reaches_every_client() -> None:
    settings = load_settings(**SASL_SSL)
    assert kafka_python_options(settings) == {
        "security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "pulse", "sasl_plain_password": "pw",
    }
    options = aiokafka_options(settings)
    assert isinstance(options.pop("ssl_context"), ssl.SSLContext)
    assert options == kafka_python_options(settings)
    credentials = faust_credentials(settings)
    assert isinstance(credentials, faust.SASLCredentials)
    assert (credentials.username, credentials.password) == ("pulse", "pw")
    assert credentials.ssl_context is not None
    assert librdkafka_config(settings) == {
        "bootstrap.servers": "k1:9093,k2:9093", "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512", "sasl.username": "pulse", "sasl.password": "pw",
    }
    assert "pw" not in repr(settings)


def test_tls_without_sasl_uses_ssl_credentials() -> None:
    settings = load_settings(kafka_security_protocol="SSL")
    assert isinstance(faust_credentials(settings), faust.SSLCredentials)
    assert "ssl_context" in aiokafka_options(settings)
