"""Streams shared by the generator tests (generated once per session)."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from pipeline.devtools.generator import GeneratedStream, generate
from pipeline.topics import CHAT_MESSAGES
from tests.support import CLEAN_STREAM, DEFAULT_STREAM, LONG_STREAM, REFERENCE_START

START = REFERENCE_START
"""The fixed start of the generator tests' streams (tests/support.py)."""


@pytest.fixture(scope="session")
def start() -> datetime:
    return START


@pytest.fixture(scope="session")
def stream() -> GeneratedStream:
    """The default configuration (size, rates, episodes) at a fixed start."""
    return generate(DEFAULT_STREAM)


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
    return generate(CLEAN_STREAM)


@pytest.fixture(scope="session")
def long_stream() -> GeneratedStream:
    """Long enough for members to stay silent three days before the end."""
    return generate(LONG_STREAM)
