"""The worker's garbage-collector tuning: start-up objects frozen, young threshold raised."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from pipeline.runtime.gc_tuning import OLDER_THRESHOLDS, tune_gc


@pytest.fixture
def restored_gc() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def test_tuning_freezes_start_up_objects_and_raises_the_young_threshold(restored_gc: None) -> None:
    survivor = [object() for _ in range(100)]  # noqa: F841 - alive across the freeze
    tune_gc(12_345)
    assert gc.get_threshold() == (12_345, *OLDER_THRESHOLDS)
    assert gc.get_freeze_count() > 0


def test_zero_keeps_the_interpreter_defaults(restored_gc: None) -> None:
    before = gc.get_threshold()
    frozen = gc.get_freeze_count()
    tune_gc(0)
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == frozen
