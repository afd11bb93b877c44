"""Process hygiene of a worker: children that die with their parent, stops that end."""

from __future__ import annotations

import contextlib
import ctypes
import faulthandler
import logging
import os
import signal
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

DUMP_STACKS_SIGNAL = signal.SIGRTMIN + 1
"""``kill -s RTMIN+1 <pid>`` writes every thread's Python stack to the worker's stderr.
Not ``SIGRTMIN`` itself: chdb (ClickHouse in the worker's process) installs its own
handler for it when it starts, after ours, and the dump never came."""

STOP_OVERDUE_EXIT = 75
"""Exit code of a worker whose stop took longer than allowed (EX_TEMPFAIL: start again)."""

PARENT_PID_ENV = "COMMUNITY_PULSE_PARENT_PID"
_PR_SET_PDEATHSIG = 1


def dump_stacks_on_signal() -> None:
    """Let an operator (or a test) see where a worker is stuck, even when its event loop
    is blocked: mode's SIGUSR1 dump runs on the loop, faulthandler's in C."""
    faulthandler.register(DUMP_STACKS_SIGNAL, all_threads=True, chain=False)


def die_with_parent(expected: int | None = None) -> None:
    """In a child process: get SIGTERM when the parent dies (Linux).

    Called by the child itself after exec (``preexec_fn`` is unsafe with threads),
    so a demo or test killed mid-run leaves no orphan worker holding ports or
    the chdb directory, and a killed worker no orphan scoring processes.
    ``expected`` is the parent's pid (default: from the environment set by
    :class:`WorkerProcess`); if the parent is already gone, exit at once.
    """
    expected = expected or int(os.environ.get(PARENT_PID_ENV) or 0)
    if not expected:
        return
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != int(expected):
        raise SystemExit("parent process is gone")


def exit_if_not_stopped(timeout_s: float,
                        exit_now: Callable[[int], None] = os._exit) -> threading.Timer:
    """Arm a deadline for a stop that has begun: unless the process has exited by then,
    exit at once with :data:`STOP_OVERDUE_EXIT`.

    A stop waits on the broker (commits, changelog flushes); with the broker gone it can
    wait forever, holding the web port, the state store's locks and a CPU (seen: a test
    worker orphaned when its broker was stopped spun for 12 minutes and ignored SIGTERM).
    A thread, not the event loop, keeps the time, so a loop that never yields is no
    obstacle.  Input not committed yet is processed again by the next worker.
    """
    def overdue() -> None:
        log.error("stop did not finish within %.0fs: exiting now", timeout_s)
        for handler in logging.getLogger().handlers:
            with contextlib.suppress(Exception):
                handler.flush()
        exit_now(STOP_OVERDUE_EXIT)

    timer = threading.Timer(timeout_s, overdue)
    timer.daemon = True
    timer.start()
    return timer
