"""ClickHouse sink: embedded chdb or a server, through one clickhouse-connect API.

Writes are synchronous calls made from one dedicated thread, so the Faust
event loop never blocks on them and chdb (single-session) sees one caller.
A batch is retried with backoff until it succeeds: the agent does not ack its
events meanwhile, which turns a slow or down ClickHouse into back-pressure
instead of data loss.  Idempotency: every table is a ReplacingMergeTree keyed
by the record identity, and each insert carries a deduplication token derived
from the batch content, so a retried batch is dropped at insert time.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

import clickhouse_connect
from clickhouse_connect.driver import options as client_options
from clickhouse_connect.driver.client import Client

from pipeline.egress.prometheus import PrometheusSeries

log = logging.getLogger(__name__)

DDL_DIR = Path(__file__).resolve().parent / "ddl"
"""The tables' DDL, shipped with the package beside their specs (``tables.py``)."""


DEFAULT_RETENTION_DAYS = 400


def ddl_statements(database: str, retention_days: int = DEFAULT_RETENTION_DAYS) -> list[str]:
    """All CREATE statements, in file order, for ``database``; event-time tables keep
    ``retention_days`` of history (their TTL)."""
    statements: list[str] = []
    for path in sorted(DDL_DIR.glob("*.sql")):
        text = "\n".join(
            line for line in path.read_text().splitlines() if not line.lstrip().startswith("--")
        )
        statements += [
            s.strip().replace("{db}", database).replace("{retention_days}", str(retention_days))
            for s in text.split(";") if s.strip()
        ]
    return statements


def connect(url: str) -> Client:
    """A client for ``chdb://<dir>`` (embedded, in-process) or ``http(s)://`` (server)."""
    if url.startswith("chdb://"):
        path = Path(url.removeprefix("chdb://"))
        path.mkdir(parents=True, exist_ok=True)
        return clickhouse_connect.get_client(interface="chdb", path=str(path))
    return clickhouse_connect.get_client(**server_options(url))


TLS_OPTIONS = ("ca_cert", "client_cert", "client_cert_key", "verify")
"""Query parameters of an ``https://`` URL passed on to clickhouse-connect."""


def server_options(url: str) -> dict[str, Any]:
    """clickhouse-connect's options for an ``http(s)://user:password@host:port`` URL.

    TLS settings ride along as query parameters, so one setting (``PULSE_CLICKHOUSE_URL``,
    from the environment like every secret) says everything:
    ``https://pulse:pw@ch.internal:8443?ca_cert=/etc/pulse/ch-ca.pem`` trusts a private
    CA, ``client_cert``/``client_cert_key`` add mutual TLS, ``verify=false`` (tests only)
    skips verification.
    """
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https"):
        raise ValueError(f"unsupported ClickHouse URL scheme: {parsed.scheme!r}")
    query = {key: values[-1] for key, values in parse_qs(parsed.query).items()}
    unknown = set(query) - set(TLS_OPTIONS)
    if unknown or (query and parsed.scheme != "https"):
        raise ValueError(f"ClickHouse URL parameters {sorted(query)}: only {list(TLS_OPTIONS)}, "
                         "and only with https://")
    options: dict[str, Any] = {
        "host": parsed.hostname or "localhost",
        "port": parsed.port or (8443 if parsed.scheme == "https" else 8123),
        "username": unquote(parsed.username or "default"),
        "password": unquote(parsed.password or ""),
        "secure": parsed.scheme == "https",
    }
    for key, value in query.items():
        if key == "verify":
            if value.lower() not in ("true", "false"):
                raise ValueError(f"ClickHouse URL: verify={value!r} is not true or false")
            options["verify"] = value.lower() == "true"
        else:
            options[key] = value
    return options


def dedup_token(table: str, identity: str) -> str:
    """Same batch identity, same token: a retried batch is recognised by ClickHouse."""
    return hashlib.blake2b(f"{table}\n{identity}".encode(), digest_size=16).hexdigest()


def create_schema(
    client: Client, database: str, retention_days: int = DEFAULT_RETENTION_DAYS
) -> None:
    client.command(f"CREATE DATABASE IF NOT EXISTS {database}")
    for statement in ddl_statements(database, retention_days):
        client.command(statement)


class ClickHouseSink:
    """Owns the client and the writer thread."""

    def __init__(self, url: str, database: str, prometheus: PrometheusSeries | None = None,
                 retention_days: int = DEFAULT_RETENTION_DAYS):
        self.url = url
        self.database = database
        self.retention_days = retention_days
        self.prometheus = prometheus
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clickhouse")
        self._client: Client | None = None

    async def start(self) -> None:
        await self._run(self._open)

    def _open(self) -> None:
        self._client = connect(self.url)
        create_schema(self._client, self.database, self.retention_days)
        # clickhouse-connect imports pandas and numpy lazily, on the first insert (about
        # 2 s here): load them now, not while the first batch waits.
        _ = (client_options.pd, client_options.np)
        log.info("ClickHouse ready at %s (database %s)", _redact(self.url), self.database)

    async def close(self) -> None:
        if self._client is not None:
            await self._run(self._client.close)
            self._client = None
        self._executor.shutdown(wait=True)

    async def insert(
        self,
        table: str,
        columns: Sequence[str],
        rows: list[Sequence[Any]],
        identity: str | None = None,
        max_backoff_s: float = 30.0,
    ) -> None:
        """Insert ``rows``; retries until ClickHouse accepts them.

        ``identity`` names the batch (e.g. its source offsets) so a retry carries the
        same deduplication token; without it the rows themselves are hashed.
        """
        if not rows:
            return
        token = dedup_token(table, identity if identity is not None else repr(rows))
        delay = 0.2
        while True:
            started = time.perf_counter()
            try:
                await self._run(self._insert, table, columns, rows, token)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - any driver error means "retry later"
                if self.prometheus:
                    self.prometheus.sink_errors.labels("clickhouse").inc()
                log.warning("ClickHouse insert into %s failed (%s); retry in %.1fs",
                            table, type(exc).__name__, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, max_backoff_s)
                continue
            if self.prometheus:
                self.prometheus.sink_write_duration.labels("clickhouse").observe(
                    time.perf_counter() - started
                )
                self.prometheus.sink_rows.labels("clickhouse", table).inc(len(rows))
            return

    def _insert(self, table: str, columns: Sequence[str], rows: list, token: str) -> None:
        assert self._client is not None, "sink not started"
        self._client.insert(
            f"{self.database}.{table}",
            rows,
            column_names=list(columns),
            settings={"insert_deduplication_token": token},
        )

    async def query(self, sql: str, parameters: dict[str, Any] | None = None) -> list[tuple]:
        """Rows of ``sql``; values go in ``parameters`` (``{name:Type}`` placeholders)."""
        await self._ensure_open()
        return await self._run(lambda: self._client.query(sql, parameters=parameters).result_rows)

    async def _ensure_open(self) -> None:
        if self._client is None:
            await self.start()

    async def _run(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)


def _redact(url: str) -> str:
    parsed = urlparse(url)
    if parsed.password:
        return url.replace(parsed.password, "***")
    return url
