"""Worker roles: each registers the agents of the topics it is declared to consume."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.app.factory import create_app
from pipeline.app.settings import Settings, load_settings
from pipeline.topics import consumed_topics


@pytest.mark.parametrize("role", ["all", "alerts", "metrics"])
def test_agents_of_a_role_consume_exactly_its_declared_topics(role: str, tmp_path: Path) -> None:
    settings = load_settings(worker_role=role, data_dir=tmp_path, topic_prefix="roles.")
    app = create_app(settings)
    subscribed = {name for agent in app.agents.values() for name in agent.channel.topics}
    assert subscribed == {settings.topic(spec.name) for spec in consumed_topics(role)}
    assert app.conf.id == settings.group_id


def test_split_roles_are_separate_consumer_groups() -> None:
    groups = {Settings(worker_role=role).group_id for role in ("all", "alerts", "metrics")}
    assert groups == {"community-pulse", "community-pulse-alerts", "community-pulse-metrics"}


def test_the_rocksdb_budget_counts_every_table_of_a_full_worker(tmp_path: Path) -> None:
    """``PULSE_STORE_MEMORY_MIB`` is split between TABLES_PER_WORKER tables: it must be the
    number a worker of role ``all`` really opens, or the budget is exceeded."""
    from pipeline.runtime.context import TABLES_PER_WORKER

    settings = load_settings(worker_role="all", data_dir=tmp_path, topic_prefix="roles.")
    app = create_app(settings)
    assert len(app.tables) == TABLES_PER_WORKER
