"""Fixtures of the deployment tests: the Prometheus tool binaries (required, never skipped)."""

from __future__ import annotations

import pytest
from deploy_support import tool


@pytest.fixture(scope="session")
def promtool() -> str:
    return tool("promtool")


@pytest.fixture(scope="session")
def amtool() -> str:
    return tool("amtool")
