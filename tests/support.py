"""Helpers for integration tests."""

from __future__ import annotations

from pipeline.progress import wait_until_committed as _wait
from pipeline.settings import Settings
from pipeline.stack import WorkerProcess


def wait_until_committed(settings: Settings, worker: WorkerProcess, timeout: float = 300) -> None:
    """Block until the worker's consumer group has committed every input record."""
    _wait(settings, lambda: worker.process is not None and worker.process.poll() is None, timeout)
