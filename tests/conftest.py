"""Shared fixtures: one embedded Tansu broker per session, isolated topics per test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.app.settings import Settings, load_settings
from pipeline.devtools.stack import Broker, free_port, prepare
from tests.browser_support import browser  # noqa: F401 - the headless Chromium fixture


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    """A real Kafka-protocol broker (Tansu) for the whole test session."""
    running = Broker(tmp_path_factory.mktemp("broker") / "tansu.log")
    running.start()
    yield running
    running.stop()


@pytest.fixture
def pipeline_settings(broker: Broker, tmp_path: Path) -> Settings:
    """Settings of a fresh pipeline: own topics, consumer group, chdb and state dirs."""
    run = uuid.uuid4().hex[:8]
    settings = load_settings(
        kafka_bootstrap=broker.bootstrap,
        topic_prefix=f"t{run}.",
        app_id=f"pulse-test-{run}",
        clickhouse_url=f"chdb://{tmp_path / 'clickhouse'}",
        clickhouse_retention_days=20_000,  # streams start on a fixed date that will age
        data_dir=tmp_path / "state",
        web_port=free_port(),
        batch_within_s=0.1,
    )
    prepare(settings)
    return settings
