"""Process hygiene of a worker: children that die with their parent."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal

PARENT_PID_ENV = "COMMUNITY_PULSE_PARENT_PID"
_PR_SET_PDEATHSIG = 1


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
