"""Fixtures of the console tests: a served console per test, stopped afterwards."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from console_harness import RunningConsole, graded_policy, make_alert, serve


@pytest.fixture
def make_console() -> Iterator[Callable[..., RunningConsole]]:
    """Start consoles with custom options (token, paused sender, public URL)."""
    started: list[RunningConsole] = []

    def start(**options: Any) -> RunningConsole:
        running = serve(f"console-test-{uuid.uuid4().hex[:8]}", **options)
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop()


@pytest.fixture
def console(make_console: Callable[..., RunningConsole]) -> RunningConsole:
    """A console with the token set and a sender that applies commands at once."""
    return make_console()


@pytest.fixture
def graded(make_console: Callable[..., RunningConsole], tmp_path: Path) -> RunningConsole:
    """Graded accounts over the sample incidents, plus one spread from wx-crisis to qq-fans."""
    running = make_console(access=graded_policy(tmp_path))
    running.store.put(make_alert("inc-spread", community="wx-crisis",
                                 community_ids=["wx-crisis", "qq-fans"]))
    return running
