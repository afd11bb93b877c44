"""Apache Kafka (KRaft, the broker production runs) as a child process for tests.

The jars come from Maven (``make kafka-deps`` writes their classpath to
``var/kafka/classpath.txt``); nothing is downloaded here.  One JVM is broker and
controller of a single-node cluster on free local ports, with storage in a data
directory that survives :meth:`KafkaBroker.stop`: ``start()`` again brings the
same cluster back on the same port, with its topics, records and committed offsets.
With :class:`BrokerSecurity` it also listens for SASL_SSL clients (SCRAM over TLS, as a
managed production cluster would), so the pipeline's security settings meet a real broker.
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from kafka.admin import KafkaAdminClient
from kafka.errors import KafkaError

from pipeline.devtools.stack import StackError, _port_open, _stop, _wait_for, free_port

REPO = Path(__file__).resolve().parents[2]
CLASSPATH_FILE = REPO / "var" / "kafka" / "classpath.txt"
"""Written by ``make kafka-deps`` (``mvn dependency:build-classpath``, deploy/kafka/pom.xml)."""
LOG4J_CONFIG = REPO / "deploy" / "kafka" / "log4j2.properties"
HEAP = ("-Xms128m", "-Xmx512m")
"""The broker of a test holds little data; 2-CPU machines run it next to workers."""


def kafka_classpath(path: Path | None = None) -> str:
    """The broker's Java classpath, or a StackError that says how to fetch it."""
    path = path or CLASSPATH_FILE
    if not path.exists():
        raise StackError(f"Apache Kafka jars not fetched ({path} missing): run `make kafka-deps`")
    classpath = path.read_text().strip()
    missing = [jar for jar in classpath.split(os.pathsep) if not Path(jar).exists()]
    if not classpath or missing:
        raise StackError(
            f"{len(missing)} jar(s) of {path} missing (Maven cache cleared?), e.g. "
            f"{missing[:1]}: run `rm {path}; make kafka-deps`"
        )
    return classpath


def java_binary() -> str:
    home = os.environ.get("JAVA_HOME")
    java = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    if not java or not Path(java).exists():
        raise StackError("java not found (Apache Kafka needs Java 17+): set JAVA_HOME or PATH")
    return java


@dataclass(frozen=True)
class BrokerSecurity:
    """A SASL_SSL listener: the broker's key and certificate chain, and SCRAM users.

    ``keystore_pem`` holds the unencrypted PKCS#8 private key followed by the
    certificate chain (Kafka's PEM key store); clients trust the CA that signed it.
    """

    keystore_pem: Path
    users: dict[str, str] = field(default_factory=dict)
    """SCRAM user name → password, created when the storage is formatted."""
    mechanism: str = "SCRAM-SHA-512"


def _cluster_id() -> str:
    """A random Kafka cluster id: 16 bytes, URL-safe base64 without padding.

    One id in 64 would start with ``-``, which a command line reads as an option
    (``kafka-storage format --cluster-id -x...`` fails); Kafka's own ``Uuid.randomUuid``
    draws again in that case, and so does this.
    """
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


def _log_tail(path: Path, lines: int = 12) -> str:
    """The last lines of a log, for an error message that explains itself in CI output."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


class KafkaBroker:
    """A single-node Apache Kafka (KRaft broker + controller) on free local ports.

    Same interface as :class:`pipeline.devtools.stack.Broker`; unlike Tansu's memory
    storage its data directory is kept across ``stop()``/``start()``.
    """

    def __init__(self, log_path: Path, port: int | None = None, data_dir: Path | None = None,
                 cluster_id: str | None = None, security: BrokerSecurity | None = None):
        self.port = port or free_port()
        self.controller_port = free_port()
        self.security = security
        self.secure_port = free_port() if security is not None else None
        self.log_path = log_path
        self.data_dir = data_dir or log_path.parent / "kafka-data"
        self.cluster_id = cluster_id or _cluster_id()
        self.process: subprocess.Popen | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def secure_bootstrap(self) -> str:
        """The SASL_SSL listener (a broker started with :class:`BrokerSecurity`)."""
        if self.secure_port is None:
            raise StackError("this broker has no SASL_SSL listener (no BrokerSecurity given)")
        return f"127.0.0.1:{self.secure_port}"

    @property
    def config_path(self) -> Path:
        return self.data_dir / "server.properties"

    def server_properties(self) -> dict[str, str]:
        """Production's settings (docker-compose.yml) scaled down to one node on localhost."""
        return {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{self.controller_port}",
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port},"
                         f"CONTROLLER://127.0.0.1:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "log.dirs": str(self.data_dir / "logs"),
            # as in production: the pipeline creates every topic itself (pipeline/topics.py,
            # Faust's topic_allow_declare), so a typo fails instead of making a topic
            "auto.create.topics.enable": "false",
            "num.partitions": "1",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "8",  # 50 by default: slower first group join
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            # every second, not every 5 minutes: a record the broker deletes by age before
            # the pipeline reads it (pipeline/topics.py, LogAppendTime) shows up in every
            # test, not in the one that happens to run across a 5-minute check
            "log.retention.check.interval.ms": "1000",
            "num.io.threads": "2",
            "num.network.threads": "2",
        } | self._security_properties()

    def _security_properties(self) -> dict[str, str]:
        """A SASL_SSL client listener beside PLAINTEXT (health checks, broker-internal use)."""
        if self.security is None:
            return {}
        mechanism = self.security.mechanism
        prefix = "listener.name.sasl_ssl"
        return {
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port},"
                         f"SASL_SSL://127.0.0.1:{self.secure_port},"
                         f"CONTROLLER://127.0.0.1:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port},"
                                    f"SASL_SSL://127.0.0.1:{self.secure_port}",
            "listener.security.protocol.map":
                "PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT",
            "sasl.enabled.mechanisms": mechanism,
            f"{prefix}.{mechanism.lower()}.sasl.jaas.config":
                "org.apache.kafka.common.security.scram.ScramLoginModule required;",
            f"{prefix}.ssl.keystore.type": "PEM",
            f"{prefix}.ssl.keystore.location": str(self.security.keystore_pem),
        }

    def _write_config(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        lines = [f"{key}={value}" for key, value in self.server_properties().items()]
        self.config_path.write_text("\n".join(lines) + "\n")

    def _java(self, main: str, *args: str) -> list[str]:
        return [java_binary(), *HEAP, "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20",
                "-Djava.awt.headless=true", f"-Dlog4j2.configurationFile={LOG4J_CONFIG}",
                "-cp", kafka_classpath(), main, *args]

    def _format(self, log: IO[bytes]) -> None:
        """Format the storage once; a restart finds it formatted and keeps its data."""
        if (self.data_dir / "logs" / "meta.properties").exists():
            return
        users = self.security.users.items() if self.security is not None else ()
        scram = [f"--add-scram={self.security.mechanism}=[name={name},password={password}]"
                 for name, password in users] if self.security is not None else []
        done = subprocess.run(
            # ``--cluster-id=ID``, one argument: an id given from outside may start with "-"
            self._java("kafka.tools.StorageTool", "format", "--config", str(self.config_path),
                       f"--cluster-id={self.cluster_id}", "--ignore-formatted", *scram),
            stdout=log, stderr=subprocess.STDOUT, timeout=120,
        )
        if done.returncode != 0:
            log.flush()
            raise StackError(f"kafka-storage format failed (log: {self.log_path}):\n"
                             f"{_log_tail(self.log_path)}")

    def start(self, timeout: float = 60.0) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._write_config()
        with self.log_path.open("ab") as log:
            self._format(log)
            self.process = subprocess.Popen(
                self._java("kafka.Kafka", str(self.config_path)),
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        _wait_for(self.healthy, timeout, f"Apache Kafka (log: {self.log_path})", self.process)

    def healthy(self) -> bool:
        """The port is open and a metadata request lists this broker."""
        if not _port_open(self.port):
            return False
        try:
            admin = KafkaAdminClient(bootstrap_servers=self.bootstrap, client_id="health",
                                     request_timeout_ms=3000)
        except KafkaError:
            return False
        try:
            brokers = admin.describe_cluster().get("brokers", [])
            return any(broker.get("port") == self.port and not broker.get("is_fenced")
                       for broker in brokers)
        except KafkaError:
            return False
        finally:
            admin.close()

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM (controlled shutdown, data flushed), SIGKILL after ``timeout``."""
        if self.process is not None:
            _stop(self.process, timeout)
            self.process = None

    def kill(self) -> None:
        """Crash the broker (SIGKILL); ``start()`` recovers its logs."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None
