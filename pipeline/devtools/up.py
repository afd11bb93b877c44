"""``pulse up``: the embedded stack in the foreground, for your own producers, until Ctrl-C.

A broker (Tansu, or Apache Kafka with ``--broker kafka``), a worker of every role with
its console and metrics, and Prometheus and Alertmanager when their Debian packages
are installed (the repo's rules and routes, pointed at the local worker).  What to
point a producer at is printed and written to ``endpoints.json`` in the directory.
Tansu keeps topics in memory, so each start begins empty (the directory is reset);
``pulse replay FILE`` sends a file of events.
"""

from __future__ import annotations

import json
import secrets
import shutil
import signal
import subprocess
import threading
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

from pipeline.app.settings import Settings, load_settings
from pipeline.devtools.kafka_broker import KafkaBroker
from pipeline.devtools.stack import (
    Broker,
    BrokerProcess,
    WorkerProcess,
    _stop,
    _wait_for,
    free_port,
    prepare,
)

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
PROMETHEUS = "prometheus"
ALERTMANAGER = "prometheus-alertmanager"
"""Debian's binary names (``make test`` installs them; ``apt install`` them otherwise)."""


@dataclass(frozen=True)
class UpOptions:
    directory: Path = Path("var/up")
    broker: str = "tansu"
    monitoring: bool = True


def alertmanager_config(worker_url: str, directory: Path,
                        wechat_api_url: str | None = None) -> Path:
    """The repo's alertmanager.yml with the worker's webhook on ``worker_url`` (and the
    WeCom API on ``wechat_api_url`` if given), its templates beside it."""
    source = DEPLOY / "alertmanager"
    config = yaml.safe_load((source / "alertmanager.yml").read_text(encoding="utf-8"))
    if wechat_api_url is not None:
        config["global"]["wechat_api_url"] = wechat_api_url
    for receiver in config["receivers"]:
        for hook in receiver.get("webhook_configs", []):
            hook["url"] = hook["url"].replace("http://worker:6066", worker_url)
    (directory / "templates").mkdir(parents=True, exist_ok=True)
    for template in (source / "templates").glob("*.tmpl"):
        (directory / "templates" / template.name).write_text(template.read_text("utf-8"),
                                                             "utf-8")
    path = directory / "alertmanager.yml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


def prometheus_config(worker_address: str, alertmanager_address: str | None,
                      directory: Path) -> Path:
    """The repo's prometheus.yml scraping the local worker, with the repo's rules."""
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text("utf-8"))
    config["rule_files"] = [str((DEPLOY / "prometheus" / rule).resolve())
                            for rule in config["rule_files"]]
    config["alerting"] = {"alertmanagers": [
        {"static_configs": [{"targets": [alertmanager_address]}]}]} if alertmanager_address \
        else {}
    config["scrape_configs"] = [{
        "job_name": "pulse-worker", "metrics_path": "/metrics", "scrape_interval": "5s",
        "static_configs": [{"targets": [worker_address]}]}]
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "prometheus.yml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def alertmanager_monitor(config: Path, data: Path, log_path: Path,
                         binary: str = ALERTMANAGER) -> Monitor:
    """A local Alertmanager (no cluster) on a free port, its data in ``data``."""
    return Monitor("Alertmanager", lambda port: [
        binary, f"--config.file={config}", f"--storage.path={data}",
        f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="], log_path)


def prometheus_monitor(config: Path, data: Path, log_path: Path,
                       binary: str = PROMETHEUS) -> Monitor:
    """A local Prometheus on a free port, its time series in ``data``."""
    return Monitor("Prometheus", lambda port: [
        binary, f"--config.file={config}", f"--storage.tsdb.path={data}",
        f"--web.listen-address=127.0.0.1:{port}"], log_path)


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1):
            return True
    except OSError:
        return False


class Monitor:
    """A Prometheus or Alertmanager child process on a free local port."""

    def __init__(self, name: str, args: Callable[[int], list[str]], log_path: Path) -> None:
        self.name, self.args, self.log_path = name, args, log_path
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(self.args(self.port), stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        _wait_for(lambda: _ready(f"{self.url}/-/ready"), timeout, self.name, self.process)

    def stop(self) -> None:
        if self.process is not None:
            _stop(self.process, 10.0)
            self.process = None


@dataclass
class Stack:
    broker: BrokerProcess
    worker: WorkerProcess
    settings: Settings
    monitors: dict[str, Monitor]
    token: str

    def endpoints(self) -> dict[str, str]:
        out = {
            "kafka_bootstrap": self.broker.bootstrap,
            "topic_prefix": self.settings.topic_prefix,
            "console": f"{self.worker.url}/console?token={self.token}",
            "metrics": f"{self.worker.url}/metrics",
            "health": f"{self.worker.url}/health",
            "clickhouse": self.settings.clickhouse_url,
            "logs": str(self.worker.log_path.parent),
        }
        out |= {name: monitor.url for name, monitor in self.monitors.items()}
        return out


def start_stack(options: UpOptions, say: Callable[[str], None]) -> Stack:
    """Start everything (stopping what started if a later step fails)."""
    directory = options.directory.resolve()
    if directory.exists():
        shutil.rmtree(directory)
    logs = directory / "logs"
    logs.mkdir(parents=True)
    broker: BrokerProcess = (KafkaBroker(logs / "kafka.log", data_dir=directory / "kafka")
                             if options.broker == "kafka" else Broker(logs / "tansu.log"))
    token = secrets.token_urlsafe(18)
    web_port = free_port()
    started: list[Callable[[], object]] = []
    try:
        say(f"starting the {options.broker} broker ...")
        broker.start()
        started.append(broker.stop)
        settings = load_settings(
            kafka_bootstrap=broker.bootstrap, app_id="community-pulse-up",
            clickhouse_url=f"chdb://{directory / 'clickhouse'}", data_dir=directory / "state",
            web_port=web_port, console_token=token,
            public_url=f"http://127.0.0.1:{web_port}/")
        monitors: dict[str, Monitor] = {}
        if options.monitoring and shutil.which(ALERTMANAGER):
            am_config = alertmanager_config(f"http://127.0.0.1:{web_port}",
                                            directory / "alertmanager")
            monitors["alertmanager"] = alertmanager_monitor(
                am_config, directory / "alertmanager" / "data", logs / "alertmanager.log")
        if options.monitoring and shutil.which(PROMETHEUS):
            am = monitors.get("alertmanager")
            prom_config = prometheus_config(f"127.0.0.1:{web_port}",
                                            f"127.0.0.1:{am.port}" if am else None,
                                            directory / "prometheus")
            monitors["prometheus"] = prometheus_monitor(
                prom_config, directory / "prometheus" / "data", logs / "prometheus.log")
        for monitor in monitors.values():
            say(f"starting {monitor.name} ...")
            monitor.start()
            started.append(monitor.stop)
        if "alertmanager" in monitors:
            settings = settings.model_copy(
                update={"alertmanager_url": monitors["alertmanager"].url})
        prepare(settings)
        worker = WorkerProcess(settings, logs / "worker.log")
        say("starting the worker ...")
        worker.start()
        return Stack(broker, worker, settings, monitors, token)
    except BaseException:
        for stop in reversed(started):
            stop()
        raise


def stop_stack(stack: Stack) -> int | None:
    code = stack.worker.stop()
    for monitor in reversed(stack.monitors.values()):
        monitor.stop()
    stack.broker.stop()
    return code


def run_until_interrupted(stack: Stack, every_s: float = 2.0) -> str:
    """Block until SIGINT or SIGTERM (``"stopped"``) or the worker dies (``"worker died"``)."""
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set())
                for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not stop.wait(every_s):
            if stack.worker.process is None or stack.worker.process.poll() is not None:
                return "worker died"
        return "stopped"
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def write_endpoints(stack: Stack, directory: Path) -> Path:
    path = directory / "endpoints.json"
    path.write_text(json.dumps(stack.endpoints(), indent=2), encoding="utf-8")
    return path

