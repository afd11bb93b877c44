"""Shared fixtures: one embedded Tansu broker per session, isolated topics per test.

Apache Kafka, the production broker, runs only for tests that ask for it
(``kafka_broker``, or ``any_broker`` / ``any_pipeline_settings`` to run on both).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.app.settings import Settings
from pipeline.devtools.kafka_broker import KafkaBroker
from pipeline.devtools.stack import Broker, BrokerProcess
from tests.browser_support import browser  # noqa: F401 - the headless Chromium fixture
from tests.support import settings_on

BROKERS = ("tansu", "kafka")
"""Parameters of ``any_broker``: the test ids end in ``[tansu]`` / ``[kafka]``."""


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    """A real Kafka-protocol broker (Tansu) for the whole test session."""
    running = Broker(tmp_path_factory.mktemp("broker") / "tansu.log")
    running.start()
    yield running
    running.stop()


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaBroker]:
    """Apache Kafka (KRaft) for the session, started by the first test that needs it."""
    directory = tmp_path_factory.mktemp("kafka")
    running = KafkaBroker(directory / "kafka.log", data_dir=directory / "data")
    running.start()
    yield running
    running.stop()


@pytest.fixture(params=BROKERS)
def any_broker(request: pytest.FixtureRequest) -> BrokerProcess:
    """Each broker in turn, so that one test checks Tansu and the production broker."""
    return request.getfixturevalue("broker" if request.param == "tansu" else "kafka_broker")


@pytest.fixture
def pipeline_settings(broker: Broker, tmp_path: Path) -> Settings:
    """Settings of a fresh pipeline: own topics, consumer group, chdb and state dirs."""
    return settings_on(broker, tmp_path)


@pytest.fixture
def any_pipeline_settings(any_broker: BrokerProcess, tmp_path: Path) -> Settings:
    """``pipeline_settings`` on each broker in turn (see ``any_broker``)."""
    return settings_on(any_broker, tmp_path)
