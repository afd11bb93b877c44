"""Configuration: environment in, same settings out in a child process."""

from __future__ import annotations

import pytest

from pipeline.app.settings import Settings, load_settings
from pipeline.devtools.stack import settings_env


def test_environment_overrides_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PULSE_KAFKA_BOOTSTRAP", "kafka-1:9092, kafka-2:9092")
    monkeypatch.setenv("PULSE_CLICKHOUSE_URL", "https://ops:s3cret@ch.internal:8443")
    monkeypatch.setenv("PULSE_TOPIC_PARTITIONS", "12")
    settings = load_settings()
    assert settings.bootstrap_servers == ["kafka-1:9092", "kafka-2:9092"]
    assert settings.topic_partitions == 12
    assert settings.clickhouse_url.startswith("https://")


def test_settings_round_trip_through_the_child_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    original = load_settings(topic_prefix="x.", web_port=7001, kafka_sasl_password="pw",
                             allowed_lateness_s=60)
    for key, value in settings_env(original).items():
        monkeypatch.setenv(key, value)
    assert Settings() == original


def test_invalid_values_are_refused() -> None:
    with pytest.raises(ValueError):
        load_settings(topic_partitions=0)
    with pytest.raises(ValueError):
        load_settings(kafka_security_protocol="TLS")
