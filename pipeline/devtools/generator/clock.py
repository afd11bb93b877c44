"""Event-time helpers: milliseconds, daily rhythms in Asia/Shanghai, ISO strings.

Everything inside the generator is an ``int`` of epoch milliseconds: exact,
cheap to compare, and equal to the Kafka record timestamp.
"""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime

SECOND_MS = 1000
MINUTE_MS = 60 * SECOND_MS
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS
SHANGHAI_OFFSET_MS = 8 * HOUR_MS
"""China has one time zone, UTC+8, and no daylight saving time."""


def _normalised(weights: tuple[float, ...]) -> tuple[float, ...]:
    mean = sum(weights) / len(weights)
    return tuple(w / mean for w in weights)


CHAT_RHYTHM = _normalised((
    0.35, 0.18, 0.09, 0.05, 0.05, 0.08, 0.25, 0.6, 1.0, 2.5, 1.3, 1.15,
    2.4, 1.3, 0.95, 0.9, 0.9, 0.95, 1.05, 1.4, 2.8, 1.7, 1.1, 0.7,
))
"""Messages by Shanghai hour: peaks at 9:00, 12:00 and 20:00 (the "3+2" slots), quiet at night."""

ORDER_RHYTHM = _normalised((
    0.4, 0.2, 0.1, 0.05, 0.05, 0.05, 0.15, 0.4, 0.7, 0.9, 1.0, 1.1,
    1.4, 1.2, 1.0, 1.0, 1.0, 1.1, 1.2, 1.5, 2.2, 2.5, 2.0, 1.0,
))
"""Orders by Shanghai hour: evening shopping peak after the 20:00 live sessions."""

JOIN_RHYTHM = _normalised((
    0.3, 0.15, 0.05, 0.05, 0.05, 0.1, 0.3, 0.7, 1.1, 1.5, 1.3, 1.2,
    1.4, 1.2, 1.1, 1.1, 1.1, 1.2, 1.3, 1.5, 1.9, 1.7, 1.1, 0.6,
))
"""Joins and leaves by Shanghai hour: daytime and evening, when people read their phones."""


def to_ms(moment: datetime) -> int:
    """Epoch milliseconds of an aware datetime."""
    return int(round(moment.timestamp() * 1000))


def from_ms(ms: int) -> datetime:
    """Aware UTC datetime of epoch milliseconds."""
    return datetime.fromtimestamp(ms / 1000, UTC)


def shanghai_hour(ms: int) -> float:
    """Fractional hour of the day (0 <= h < 24) in Asia/Shanghai."""
    return ((ms + SHANGHAI_OFFSET_MS) % DAY_MS) / HOUR_MS


def shanghai_day_start(ms: int) -> int:
    """Epoch ms of 00:00 Asia/Shanghai on the day containing ``ms``."""
    return ms - (ms + SHANGHAI_OFFSET_MS) % DAY_MS


def rhythm(profile: tuple[float, ...], ms: int) -> float:
    """Weight of ``ms`` in an hourly profile, interpolated so rates change smoothly."""
    hour = shanghai_hour(ms) - 0.5
    low = math.floor(hour)
    frac = hour - low
    return profile[low % 24] * (1 - frac) + profile[(low + 1) % 24] * frac


def sample_time(rng: random.Random, lo: int, hi: int, profile: tuple[float, ...]) -> int:
    """A time in ``[lo, hi)`` drawn with density proportional to ``profile``."""
    if hi <= lo + 1:
        return lo
    top = max(profile)
    for _ in range(200):
        ms = rng.randrange(lo, hi)
        if rng.random() * top <= rhythm(profile, ms):
            return ms
    return rng.randrange(lo, hi)


def poisson(rng: random.Random, lam: float) -> int:
    """Poisson draw (Knuth for small means, a rounded normal for large ones)."""
    if lam <= 0:
        return 0
    if lam > 40:
        return max(0, int(round(rng.gauss(lam, math.sqrt(lam)))))
    limit = math.exp(-lam)
    k = 0
    p = rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


class IsoFormatter:
    """ISO 8601 strings for event times; dates are cached per day (the hot path of serialising)."""

    def __init__(self) -> None:
        self._dates: dict[int, str] = {}

    def _format(self, ms: int, suffix: str) -> str:
        day, rest = divmod(ms, DAY_MS)
        date = self._dates.get(day)
        if date is None:
            date = datetime.fromtimestamp(day * 86400, UTC).strftime("%Y-%m-%d")
            self._dates[day] = date
        seconds, milli = divmod(rest, 1000)
        minutes, second = divmod(seconds, 60)
        hour, minute = divmod(minutes, 60)
        return f"{date}T{hour:02d}:{minute:02d}:{second:02d}.{milli:03d}{suffix}"

    def utc(self, ms: int) -> str:
        """``2025-01-01T10:00:00.123Z``: what pydantic itself writes for UTC."""
        return self._format(ms, "Z")

    def shanghai(self, ms: int) -> str:
        """``2025-01-01T18:00:00.123+08:00``: how Chinese order systems stamp local time."""
        return self._format(ms + SHANGHAI_OFFSET_MS, "+08:00")


def minute_iso(ms: int) -> str:
    """Start of the UTC minute containing ``ms``, as ``datetime.isoformat()`` writes it."""
    return from_ms(ms - ms % MINUTE_MS).isoformat()
