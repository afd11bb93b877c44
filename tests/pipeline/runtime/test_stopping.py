"""A stop that hangs ends anyway: the deadline a stop signal arms."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from pathlib import Path

from pipeline.runtime.process import DUMP_STACKS_SIGNAL, STOP_OVERDUE_EXIT, exit_if_not_stopped

REPO = Path(__file__).resolve().parents[3]

HANGING_WORKER = """
import asyncio, sys
import mode
from pipeline.runtime.stopping import BoundedStop

class Stuck(mode.Service):
    async def on_stop(self):
        await asyncio.sleep(3600)  # like a commit waiting on a broker that is gone

class Worker(BoundedStop, mode.Worker):
    stop_timeout_s = 1.0

    async def on_first_start(self):
        await super().on_first_start()
        print("started", flush=True)  # signal handlers are installed by now

Worker(Stuck(), loglevel="warning").execute_from_commandline()
"""


def test_a_deadline_exits_unless_cancelled() -> None:
    fired: list[int] = []
    done = threading.Event()

    def exit_now(code: int) -> None:
        fired.append(code)
        done.set()

    exit_if_not_stopped(0.01, exit_now)
    assert done.wait(30)
    assert fired == [STOP_OVERDUE_EXIT]
    quiet = exit_if_not_stopped(3600, exit_now)
    quiet.cancel()
    quiet.join(30)
    assert fired == [STOP_OVERDUE_EXIT]


def test_a_worker_whose_stop_hangs_exits_after_a_sigterm() -> None:
    """A real mode worker, a service whose stop never returns, a real SIGTERM: the process
    exits with the overdue code instead of hanging."""
    process = subprocess.Popen([sys.executable, "-c", HANGING_WORKER], cwd=REPO,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    started = threading.Event()

    def watch() -> None:  # a thread: a worker that never prints must not hang the test
        assert process.stdout is not None
        for line in process.stdout:
            if "started" in line:
                started.set()

    threading.Thread(target=watch, daemon=True).start()
    try:
        assert started.wait(60), "the worker did not start"
        process.send_signal(signal.SIGTERM)
        assert process.wait(60) == STOP_OVERDUE_EXIT
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_a_blocked_process_dumps_its_stacks_on_the_signal(tmp_path: Path) -> None:
    """faulthandler answers in C: a loop blocked in a long call still shows where, also
    once chdb (which takes SIGRTMIN for itself) has started in the process, as in a
    metrics worker."""
    script = tmp_path / "blocked.py"
    script.write_text(
        "import time\n"
        "from pipeline.runtime.process import dump_stacks_on_signal\n"
        "dump_stacks_on_signal()\n"
        "from chdb import session\n"
        f"session.Session({str(tmp_path / 'chdb')!r}).query('SELECT 1')\n"
        "def stuck_in_a_blocking_call():\n"
        "    print('ready', flush=True)\n"
        "    time.sleep(30)\n"
        "stuck_in_a_blocking_call()\n")
    process = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, cwd=Path.cwd())
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "ready"
        process.send_signal(DUMP_STACKS_SIGNAL)
        threading.Event().wait(1)
        assert process.poll() is None, "the dump must not end the process"
    finally:
        process.kill()
        _, stderr = process.communicate(timeout=10)
    assert "stuck_in_a_blocking_call" in stderr and "Current thread" in stderr
