"""Fixtures of the console tests: a served console per test, stopped afterwards."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from console_harness import RunningConsole, serve


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
