"""Streams shared by the generator tests (generated once per session)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from pipeline.generator import GeneratedStream, GeneratorConfig, generate
from pipeline.topics import CHAT_MESSAGES

START = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=3)
"""A fixed start within a session (the generator refuses periods in the future)."""


@pytest.fixture(scope="session")
def start() -> datetime:
    return START


@pytest.fixture(scope="session")
def stream() -> GeneratedStream:
    """The default configuration (size, rates, episodes) at a fixed start."""
    return generate(GeneratorConfig(start=START))


@pytest.fixture(scope="session")
def chat(stream: GeneratedStream) -> list[dict]:
    """Valid chat messages, parsed from the bytes, each once (first delivery)."""
    seen: set[str] = set()
    out = []
    for record in stream.records:
        if record.topic == CHAT_MESSAGES.name and record.kind in ("valid", "late"):
            message = json.loads(record.value)
            assert message["message_id"] not in seen
            seen.add(message["message_id"])
            message["ts_dt"] = datetime.fromisoformat(message["ts"])
            out.append(message)
    return out


@pytest.fixture(scope="session")
def clean_stream() -> GeneratedStream:
    return generate(GeneratorConfig(seed=3, start=START, scale=0.3, episodes=False))


@pytest.fixture(scope="session")
def long_stream() -> GeneratedStream:
    """Long enough for members to stay silent three days before the end."""
    return generate(GeneratorConfig(seed=5, communities=3, days=6, scale=0.12,
                                    start=START - timedelta(days=4)))
