"""Configuration, determinism and the period of a stream."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pipeline.devtools.generator import GeneratorConfig, generate
from tests.support import REFERENCE_START

REPO = Path(__file__).resolve().parents[4]


def _digest(config: GeneratorConfig) -> str:
    digest = hashlib.sha256()
    for r in generate(config).records:
        digest.update(repr((r.topic, r.key, r.value, r.timestamp_ms, r.kind)).encode())
    return digest.hexdigest()


def test_same_seed_and_start_give_identical_bytes(start: datetime) -> None:
    config = GeneratorConfig(seed=11, start=start, days=0.5, scale=0.2)
    first, second = generate(config), generate(config)
    assert first.records == second.records
    assert first.truth.to_json() == second.truth.to_json()


def test_other_seed_or_start_give_other_streams(start: datetime) -> None:
    base = GeneratorConfig(seed=11, start=start, days=0.25, scale=0.2)
    digests = {_digest(base), _digest(GeneratorConfig(seed=12, start=start, days=0.25, scale=0.2)),
               _digest(GeneratorConfig(seed=11, start=start - timedelta(hours=1), days=0.25,
                                       scale=0.2))}
    assert len(digests) == 3


def test_determinism_does_not_depend_on_hash_randomisation(start: datetime) -> None:
    code = ("import sys, hashlib; from datetime import datetime; "
            "from pipeline.devtools.generator import GeneratorConfig, generate; "
            "s = generate(GeneratorConfig(seed=5, days=0.2, scale=0.1, "
            "start=datetime.fromisoformat(sys.argv[1]))); "
            "print(hashlib.sha256(repr([(r.key, r.value, r.kind) for r in s.records]).encode()"
            ").hexdigest() + hashlib.sha256(s.truth.to_json().encode()).hexdigest())")
    outputs = set()
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        result = subprocess.run([sys.executable, "-c", code, start.isoformat()], cwd=REPO,
                                env=env, capture_output=True, text=True, check=True)
        outputs.add(result.stdout)
    assert len(outputs) == 1


def test_default_start_is_the_current_hour_minus_days() -> None:
    now = datetime(2025, 5, 1, 13, 47, 12, tzinfo=UTC)
    relative = GeneratorConfig(start=None, days=2)
    assert relative.resolved_start(now) == datetime(2025, 4, 29, 13, tzinfo=UTC)
    naive = GeneratorConfig(start=datetime(2025, 5, 1, 8)).resolved_start()
    assert naive == datetime(2025, 5, 1, 8, tzinfo=UTC)


def test_default_stream_ends_near_now() -> None:
    """The one stream relative to the wall clock: what ``start=None`` promises the demo."""
    before = datetime.now(UTC)
    truth = generate(GeneratorConfig(start=None, days=0.1, scale=0.1)).truth
    after = datetime.now(UTC)
    assert before.replace(minute=0, second=0, microsecond=0) <= truth.end <= after
    assert truth.config["start"] == truth.start.isoformat()


@pytest.mark.parametrize("field, value", [("communities", 0), ("days", 0), ("scale", -1),
                                          ("late_rate", 0.9), ("max_late_s", 0)])
def test_invalid_configs_are_refused(field: str, value: float) -> None:
    with pytest.raises(ValueError):
        GeneratorConfig(start=REFERENCE_START, **{field: value})


def test_periods_the_edge_would_reject_are_refused() -> None:
    with pytest.raises(ValueError, match="future"):
        generate(GeneratorConfig(start=datetime.now(UTC) + timedelta(days=1), days=0.1))
    with pytest.raises(ValueError, match="early"):
        generate(GeneratorConfig(start=datetime(2015, 1, 3, tzinfo=UTC), days=0.1))


@pytest.mark.parametrize("communities, days", [(1, 0.1), (2, 0.5), (9, 0.25)])
def test_small_and_odd_configurations_work(start: datetime, communities: int,
                                           days: float) -> None:
    stream = generate(GeneratorConfig(communities=communities, days=days, scale=0.1,
                                      start=start))
    truth = stream.truth
    assert len(truth.communities) == communities
    assert any(e.expected_tier == "severe" for e in truth.episodes)
    assert all(truth.start <= e.start <= e.end < truth.end for e in truth.episodes)
    assert truth.minute_activity
