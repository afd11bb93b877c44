"""A worker whose stop, once asked for, ends within a bound."""

from __future__ import annotations

import signal
import threading
from typing import Any

import faust

from pipeline.runtime.process import exit_if_not_stopped


class BoundedStop:
    """Mixin for a ``mode.Worker``: the first stop signal (SIGTERM, SIGINT, or the
    SIGTERM a dead parent sends) arms :func:`exit_if_not_stopped`, so a stop stuck on an
    unreachable broker cannot keep the process alive."""

    stop_timeout_s: float = 60.0
    stop_deadline: threading.Timer | None = None

    def _schedule_shutdown(self, signal: signal.Signals) -> None:
        if self.stop_deadline is None:
            self.stop_deadline = exit_if_not_stopped(self.stop_timeout_s)
        super()._schedule_shutdown(signal)  # type: ignore[misc]


class BoundedStopWorker(BoundedStop, faust.Worker):
    def __init__(self, *args: Any, stop_timeout_s: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stop_timeout_s = stop_timeout_s
