"""The pipeline on a TLS + SASL broker: Apache Kafka with a SASL_SSL listener (SCRAM-SHA-512).

``test_kafka_clients.py`` checks how the ``PULSE_KAFKA_*`` settings are spelled for
each client library; here every client the pipeline runs (kafka-python for topics and
the producer, Faust/aiokafka in a real worker) connects with them to a broker that
accepts nothing else on that port, verifies the broker's certificate against the CA
given, and authenticates.  Wrong credentials, an unknown CA and plaintext are refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from kafka.admin import KafkaAdminClient
from kafka.errors import KafkaError

from pipeline.app.settings import Settings
from pipeline.devtools.generator import generate
from pipeline.devtools.kafka_broker import BrokerSecurity, KafkaBroker
from pipeline.devtools.report import compare_minutes, truth_minute_counts
from pipeline.runtime.kafka_clients import kafka_python_options
from tests.support import CLEAN_STREAM, clickhouse_report, run_until_committed, settings_on
from tests.tls_support import Certificates, make_certificates

pytestmark = pytest.mark.integration

USER, PASSWORD = "pulse", "scram-secret-0123456789"


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def secure_broker(tmp_path_factory: pytest.TempPathFactory,
                  certificates: Certificates) -> Iterator[KafkaBroker]:
    directory = tmp_path_factory.mktemp("kafka-secure")
    broker = KafkaBroker(directory / "kafka.log", data_dir=directory / "data",
                         security=BrokerSecurity(certificates.server_pem, {USER: PASSWORD}))
    broker.start()
    yield broker
    broker.stop()


def secure_settings(broker: KafkaBroker, tmp_path: Path, certificates: Certificates,
                    **changes: object) -> Settings:
    """The pipeline's settings pointed at the SASL_SSL listener (topics created through it)."""
    return settings_on(broker, tmp_path, bootstrap=broker.secure_bootstrap,
                       kafka_security_protocol="SASL_SSL", kafka_sasl_mechanism="SCRAM-SHA-512",
                       kafka_sasl_username=USER, kafka_sasl_password=PASSWORD,
                       kafka_ssl_cafile=certificates.ca_pem, **changes)


def test_a_worker_on_tls_and_sasl_counts_exactly(secure_broker: KafkaBroker,
                                                 certificates: Certificates,
                                                 tmp_path: Path) -> None:
    settings = secure_settings(secure_broker, tmp_path, certificates)
    stream = generate(CLEAN_STREAM)
    run_until_committed(settings, stream.records, tmp_path / "worker.log")
    report = clickhouse_report(settings)
    assert compare_minutes(report.minute_counts, truth_minute_counts(stream.truth)) == []
    assert PASSWORD not in (tmp_path / "worker.log").read_text()


def _admin(bootstrap: str, **options: object) -> None:
    """List topics; kafka-python retries a refused bootstrap, so give up after 3 s."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=3000,
                             bootstrap_timeout_ms=3000, **options)
    try:
        admin.list_topics()
    finally:
        admin.close()


def test_wrong_credentials_an_unknown_ca_and_plaintext_are_refused(
        secure_broker: KafkaBroker, certificates: Certificates, tmp_path: Path) -> None:
    good = kafka_python_options(secure_settings(secure_broker, tmp_path, certificates))
    _admin(secure_broker.secure_bootstrap, **good)      # the control: these options work

    other_ca = make_certificates(tmp_path / "other").ca_pem
    for name, options, broker_says in (
        ("wrong password", good | {"sasl_plain_password": "not-the-password"},
         "invalid credentials with SASL mechanism SCRAM-SHA-512"),
        ("unknown user", good | {"sasl_plain_username": "mallory"},
         "invalid credentials with SASL mechanism SCRAM-SHA-512"),
        ("untrusted CA", good | {"ssl_cafile": str(other_ca)}, "SSL handshake failed"),
        ("plaintext", {"security_protocol": "PLAINTEXT"}, "SSL handshake failed"),
    ):
        seen = secure_broker.log_path.stat().st_size
        with pytest.raises((KafkaError, OSError)):
            _admin(secure_broker.secure_bootstrap, **options)
            pytest.fail(f"{name}: accepted")
        with secure_broker.log_path.open("rb") as log:
            log.seek(seen)
            assert broker_says.encode() in log.read(), name
