"""Deliver each alert revision to every configured channel, retrying until it lands.

The alerts topic is the outbox: its consumer commits an offset only after
:meth:`AlertDeliverer.deliver` returns, so ``deliver`` returns only once every
channel has accepted the revision, and otherwise retries for ever with capped
exponential backoff.  Shutdown cancels it (``CancelledError`` propagates) and
the record is delivered again after restart: at least once, so channels must be
idempotent.  Alertmanager is by label set; WeCom messages name the incident and
revision, and a revision already sent by this process is not sent again.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import aiohttp

from pipeline.app.settings import Settings
from pipeline.compute.escalation.notify import PAGING_EVENTS
from pipeline.egress.paging.alertmanager import AlertmanagerClient, AlertmanagerError, repost_due
from pipeline.egress.paging.wecom import WeComClient, WeComError
from schemas.alerts import Alert
from schemas.base import utc_now

logger = logging.getLogger(__name__)

ALERTMANAGER = "alertmanager"
WECOM = "wecom"

REMEMBERED_INCIDENTS = 50_000
"""Bound of the per-channel memory of delivered revisions (oldest forgotten first)."""


@dataclass(frozen=True)
class Backoff:
    """Capped exponential backoff with jitter, so retries of many workers spread out."""

    initial_s: float = 0.5
    factor: float = 2.0
    max_s: float = 30.0
    jitter: float = 0.5
    """Fraction of each delay drawn at random (0 = none, 1 = full jitter)."""

    def delay(self, failures: int, rng: random.Random) -> float:
        """Seconds to wait after the ``failures``-th consecutive failure (1-based)."""
        ceiling = min(self.max_s, self.initial_s * self.factor ** max(failures - 1, 0))
        return ceiling * (1 - self.jitter * rng.random())


@dataclass(frozen=True)
class DeliveryConfig:
    alertmanager_url: str | None = None
    wecom_url: str | None = None
    public_url: str = "http://127.0.0.1:6066"
    backoff: Backoff = field(default_factory=Backoff)
    request_timeout_s: float = 10.0
    """Per request: a hung endpoint is a failure to retry, not a stuck partition."""

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> DeliveryConfig:
        wecom = settings.wecom_webhook_url
        values: dict[str, Any] = {
            "alertmanager_url": settings.alertmanager_url or None,
            "wecom_url": (wecom.get_secret_value() if wecom is not None else "") or None,
            "public_url": settings.public_url,
        }
        return cls(**{**values, **overrides})


@dataclass(frozen=True)
class DeliveryHooks:
    """Optional metric callbacks; a hook that raises is logged, never fatal."""

    on_attempt: Callable[[str], None] | None = None
    on_failure: Callable[[str], None] | None = None
    on_delivered: Callable[[str, float], None] | None = None
    """Channel and seconds from the first attempt to success, retries included."""


class _Revisions:
    """Highest revision delivered per incident, bounded LRU."""

    def __init__(self, capacity: int = REMEMBERED_INCIDENTS) -> None:
        self._capacity = capacity
        self._latest: OrderedDict[str, tuple[int, datetime]] = OrderedDict()

    def get(self, incident_id: str) -> tuple[int, datetime] | None:
        return self._latest.get(incident_id)

    def record(self, alert: Alert, at: datetime) -> None:
        known = self._latest.get(alert.incident_id)
        if known is None or alert.revision >= known[0]:
            self._latest[alert.incident_id] = (alert.revision, at)
        self._latest.move_to_end(alert.incident_id)
        while len(self._latest) > self._capacity:
            self._latest.popitem(last=False)


@dataclass
class _Channel:
    name: str
    send: Callable[[Alert], Awaitable[None]]
    wants: Callable[[Alert, tuple[int, datetime] | None], bool]
    sent: _Revisions = field(default_factory=_Revisions)


def _alertmanager_wants(alert: Alert, sent: tuple[int, datetime] | None) -> bool:
    """Every revision (equal ones again: re-posts keep it firing), never an older one:
    it would reopen a resolved incident."""
    return sent is None or alert.revision >= sent[0]


def _wecom_wants(alert: Alert, sent: tuple[int, datetime] | None) -> bool:
    return alert.event in PAGING_EVENTS and (sent is None or alert.revision > sent[0])


def _reason(exc: Exception) -> tuple[str, bool]:
    """A loggable reason and whether a traceback helps.  aiohttp errors can carry
    the webhook URL with its key, so only their type is logged."""
    if isinstance(exc, AlertmanagerError | WeComError):
        return str(exc), False
    if isinstance(exc, aiohttp.ClientError | TimeoutError):
        return type(exc).__name__, False
    return type(exc).__name__, True


class AlertDeliverer:
    """Delivers alert revisions to Alertmanager and a WeCom robot (either optional)."""

    def __init__(
        self,
        config: DeliveryConfig,
        *,
        hooks: DeliveryHooks | None = None,
        session_factory: Callable[[], aiohttp.ClientSession] | None = None,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        rng: random.Random | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.config = config
        self._hooks = hooks or DeliveryHooks()
        self._session_factory = session_factory or self._default_session
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._clock = clock
        self._session: aiohttp.ClientSession | None = None
        self._channels: dict[str, _Channel] = {}
        # Highest revision that every channel has accepted or skipped, per incident.
        self._latest = _Revisions()
        if config.alertmanager_url:
            self._channels[ALERTMANAGER] = _Channel(
                ALERTMANAGER, self._send_alertmanager, _alertmanager_wants)
        if config.wecom_url:
            self._channels[WECOM] = _Channel(WECOM, self._send_wecom, _wecom_wants)

    @property
    def channels(self) -> tuple[str, ...]:
        return tuple(self._channels)

    def _default_session(self) -> aiohttp.ClientSession:
        timeout = aiohttp.ClientTimeout(total=self.config.request_timeout_s)
        return aiohttp.ClientSession(timeout=timeout)

    async def start(self) -> None:
        """Open the HTTP session (in the running loop); idempotent, a no-op
        without channels."""
        if self._session is None and self._channels:
            self._session = self._session_factory()

    async def close(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    async def __aenter__(self) -> AlertDeliverer:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("AlertDeliverer.start() was not called")
        return self._session

    async def _send_alertmanager(self, alert: Alert) -> None:
        client = AlertmanagerClient(self.config.alertmanager_url or "", self._http())
        await client.push(alert, self.config.public_url, self._clock())

    async def _send_wecom(self, alert: Alert) -> None:
        client = WeComClient(self.config.wecom_url or "", self._http())
        await client.send_alert(alert, self.config.public_url)

    async def deliver(self, alert: Alert) -> None:
        """Return once every channel that wants this revision has accepted it."""
        if not self._channels:
            return
        latest = self._latest.get(alert.incident_id)
        if latest is not None and alert.revision < latest[0]:
            return  # superseded: a replay of it must neither page nor reopen
        due = [c for c in self._channels.values() if c.wants(alert, c.sent.get(alert.incident_id))]
        if due:
            await self.start()
            async with asyncio.TaskGroup() as group:
                for channel in due:
                    group.create_task(self._until_delivered(channel, alert))
        self._latest.record(alert, self._clock())

    def repost_due(self, alert: Alert) -> bool:
        """Whether an open incident needs :meth:`repost` to keep firing in
        Alertmanager.  True for every open incident after a restart."""
        channel = self._channels.get(ALERTMANAGER)
        if channel is None:
            return False
        sent = channel.sent.get(alert.incident_id)
        if sent is not None and sent[0] > alert.revision:
            return False
        return repost_due(alert, sent[1] if sent else None, self._clock())

    async def repost(self, alert: Alert) -> None:
        """Post the incident to Alertmanager again (no WeCom message), extending
        its ``endsAt``; retried like :meth:`deliver`."""
        channel = self._channels.get(ALERTMANAGER)
        latest = self._latest.get(alert.incident_id)
        if channel is None or (latest is not None and alert.revision < latest[0]):
            return
        if not channel.wants(alert, channel.sent.get(alert.incident_id)):
            return
        await self.start()
        await self._until_delivered(channel, alert)

    def _hook(self, name: str, *args: Any) -> None:
        callback = getattr(self._hooks, name)
        if callback is None:
            return
        try:
            callback(*args)
        except Exception:
            logger.exception("delivery hook %s failed", name)

    async def _until_delivered(self, channel: _Channel, alert: Alert) -> None:
        started = time.monotonic()
        failures = 0
        while True:
            self._hook("on_attempt", channel.name)
            try:
                await channel.send(alert)
            except Exception as exc:
                failures += 1
                self._hook("on_failure", channel.name)
                delay = self.config.backoff.delay(failures, self._rng)
                reason, trace = _reason(exc)
                logger.warning(
                    "%s: delivery of incident %s r%d failed (attempt %d: %s); retry in %.1fs",
                    channel.name, alert.incident_id, alert.revision, failures, reason, delay,
                    exc_info=trace,
                )
                await self._sleep(delay)
                continue
            channel.sent.record(alert, self._clock())
            self._hook("on_delivered", channel.name, time.monotonic() - started)
            if failures:
                logger.info("%s: incident %s r%d delivered after %d failures",
                            channel.name, alert.incident_id, alert.revision, failures)
            return
