"""Embedded stack processes: health, settings hand-over and no orphans."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from pipeline.devtools.stack import Broker, free_port
from pipeline.runtime.process import PARENT_PID_ENV

CHILD = (
    "from pipeline.runtime.process import die_with_parent; die_with_parent(); "
    "import time; time.sleep(60)"
)
PARENT = f"""
import os, subprocess, sys
env = {{**os.environ, {PARENT_PID_ENV!r}: str(os.getpid())}}
child = subprocess.Popen([sys.executable, "-c", {CHILD!r}], env=env)
print(child.pid, flush=True)
child.wait()
"""


def test_child_exits_when_its_parent_is_already_gone() -> None:
    env = {**os.environ, PARENT_PID_ENV: "1"}
    result = subprocess.run([sys.executable, "-c", CHILD], env=env, timeout=60,
                            capture_output=True, text=True)
    assert result.returncode != 0 and "parent process is gone" in result.stderr


def test_child_is_terminated_when_its_parent_is_killed() -> None:
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True)
    child_pid = int(parent.stdout.readline())
    time.sleep(1.0)  # let the child reach die_with_parent()
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.kill(child_pid, 0)
        except ProcessLookupError:
            return
        with open(f"/proc/{child_pid}/stat") as stat:
            if stat.read().split()[2] == "Z":  # exited, waiting to be reaped by init
                return
        time.sleep(0.1)
    os.kill(child_pid, signal.SIGKILL)
    raise AssertionError("orphaned child kept running after its parent was killed")


def test_broker_starts_on_a_free_port_and_stops(tmp_path) -> None:
    broker = Broker(tmp_path / "tansu.log", port=free_port())
    broker.start()
    try:
        assert broker.process is not None and broker.process.poll() is None
    finally:
        broker.stop()
    assert broker.process is None
