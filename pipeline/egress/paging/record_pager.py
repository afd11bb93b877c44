"""Alert records (community anomalies, conversion alerts) posted to Alertmanager.

A record has a stable ``key`` and a ``status`` (open / resolved); its payload
function gives the Alertmanager alert, whose label set identifies it, so
re-posting is idempotent.  Open records are posted with ``endsAt`` an hour
ahead and re-posted every 15 minutes (:data:`REPOST_INTERVAL`) so they keep
firing; a resolved one is posted once with ``endsAt`` now.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

import aiohttp

from pipeline.egress.paging.alertmanager import REPOST_INTERVAL, AlertmanagerClient
from pipeline.egress.paging.deliverer import Backoff

logger = logging.getLogger(__name__)


class AlertRecord(Protocol):
    @property
    def key(self) -> str: ...

    @property
    def status(self) -> str: ...


R = TypeVar("R", bound=AlertRecord)


class RecordPager(Generic[R]):
    """Posts records to Alertmanager until accepted; keeps open ones firing."""

    def __init__(self, url: str | None, session_factory: Callable[[], aiohttp.ClientSession],
                 clock: Callable[[], datetime],
                 payload: Callable[[R, datetime], dict[str, Any]],
                 backoff: Backoff | None = None,
                 sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep) -> None:
        self.url = url
        self._session_factory = session_factory
        self._clock = clock
        self._payload = payload
        self._backoff = backoff or Backoff()
        self._sleep = sleep
        self._rng = random.Random()
        self._session: aiohttp.ClientSession | None = None
        self._posted: dict[str, datetime] = {}

    async def start(self) -> None:
        if self._session is None and self.url:
            self._session = self._session_factory()

    async def close(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    async def post(self, record: R) -> None:
        """Return once Alertmanager accepted the record's current state (retries for ever;
        a shutdown cancels and the record is delivered again after restart)."""
        if not self.url:
            return
        await self.start()
        assert self._session is not None
        client = AlertmanagerClient(self.url, self._session)
        failures = 0
        while True:
            try:
                await client.post([self._payload(record, self._clock())])
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                failures += 1
                delay = self._backoff.delay(failures, self._rng)
                logger.warning("alertmanager: record %s not posted (%s); retry in %.1fs",
                               record.key, type(exc).__name__, delay)
                await self._sleep(delay)
                continue
            except Exception as exc:  # an HTTP error answer: retried the same way
                failures += 1
                delay = self._backoff.delay(failures, self._rng)
                logger.warning("alertmanager: record %s refused (%s); retry in %.1fs",
                               record.key, exc, delay)
                await self._sleep(delay)
                continue
            self._posted[record.key] = self._clock()
            if record.status == "resolved":
                self._posted.pop(record.key, None)
            return

    def repost_due(self, record: R) -> bool:
        if record.status != "open" or not self.url:
            return False
        last = self._posted.get(record.key)
        return last is None or self._clock() - last >= REPOST_INTERVAL
