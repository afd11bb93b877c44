"""What to simulate: one frozen value object, echoed into the ground truth."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import Any


@dataclass(frozen=True)
class GeneratorConfig:
    """Knobs of one simulated stream; the same values and ``start`` give the same bytes.

    ``start`` is the beginning of the simulated period in UTC; ``None`` means the
    current hour (floored) minus ``days``, so a fresh stream ends near now and
    passes the edge's plausible-time check.  ``scale`` multiplies activity
    (members, messages, campaigns, orders) but not the negative episodes.
    """

    seed: int = 7
    communities: int = 6
    days: float = 2.0
    start: datetime | None = None
    scale: float = 1.0
    late_rate: float = 0.03
    max_late_s: int = 300
    duplicate_rate: float = 0.03
    malformed_rate: float = 0.005
    episodes: bool = True
    stale_rate: float = 0.0
    """Events delivered 20-40 min late: past minute windows' lateness, within hours'."""
    very_late_rate: float = 0.0
    """Events delivered 3-6 h late: past every window's lateness (raw storage only)."""
    snapshots: bool = False
    """Half-way through, every other community's member list arrives as a snapshot."""
    anomalies: int = 0
    """Hour-scale anomalies injected per community after the first 8 days (chatter burst,
    quiet spell, mass leave in turn), listed in ``GroundTruth.anomalies``; needs days >= 9."""

    def __post_init__(self) -> None:
        if self.communities < 1:
            raise ValueError("communities must be >= 1")
        if not 0 < self.days <= 400:
            raise ValueError("days must be in (0, 400]")
        if not 0 < self.scale <= 100:
            raise ValueError("scale must be in (0, 100]")
        if not 0 <= self.anomalies <= 20:
            raise ValueError("anomalies must be in [0, 20] per community")
        if self.anomalies and self.days < 9:
            raise ValueError("anomalies start after 8 days of history: days must be >= 9")
        if self.max_late_s < 1:
            raise ValueError("max_late_s must be >= 1")
        for name in ("late_rate", "duplicate_rate", "malformed_rate", "stale_rate",
                     "very_late_rate"):
            value = getattr(self, name)
            if not 0 <= value <= 0.5:
                raise ValueError(f"{name} must be in [0, 0.5]")

    def resolved_start(self, now: datetime | None = None) -> datetime:
        """Start of the period in UTC (explicit, or derived from the wall clock)."""
        if self.start is not None:
            start = self.start
            return start.replace(tzinfo=UTC) if start.tzinfo is None else start.astimezone(UTC)
        now = (now or datetime.now(UTC)).astimezone(UTC)
        return now.replace(minute=0, second=0, microsecond=0) - timedelta(days=self.days)

    def echo(self, start: datetime) -> dict[str, Any]:
        """JSON-friendly copy with the resolved start, for the ground truth."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values["start"] = start.isoformat()
        return values
