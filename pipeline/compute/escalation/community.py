"""One community's escalation memory, serialisable to a Faust table value.

- ``recent``: negative (and supporting) messages within the rule windows (cluster, burst);
- ``baseline``: EWMA of negative messages per burst window, by event time;
- ``pending``: replies to messages not seen yet (delivered out of order), kept
  for the cluster window, credited as heat if their target turns out negative;
- ``seen``: ids of the messages signalled, kept ``dedup_ttl`` behind the
  watermark, so a redelivered or replayed message changes nothing;
- ``incidents``: the incidents still worth keeping (open ones, and closed ones
  for a while so that replayed commands for them stay no-ops); ``current_id``
  is the one that takes new negatives.

The watermark is the highest event time seen; everything ages by it, never by
the wall clock, so a replay produces the same state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pipeline.compute.escalation.incident import Incident
from pipeline.compute.escalation.policy import EscalationPolicy
from pipeline.compute.escalation.signals import to_ms


@dataclass(frozen=True, slots=True)
class RecentNegative:
    """A negative message, as the window rules need it.

    ``supporting``: only probably negative (``signals``); it belongs to no incident
    (``incident_id`` is empty) and counts for the cluster rule of the community's current
    incident only.
    """

    message_id: str
    ts_ms: int
    member_ref: str
    incident_id: str
    complaint_terms: tuple[str, ...] = ()
    supporting: bool = False

    def to_wire(self) -> list[Any]:
        wire = [self.message_id, self.ts_ms, self.member_ref, self.incident_id,
                list(self.complaint_terms)]
        return wire + [1] if self.supporting else wire

    @classmethod
    def from_wire(cls, data: list[Any]) -> RecentNegative:
        message_id, ts_ms, ref, incident, terms, *rest = data
        return cls(message_id, int(ts_ms), ref, incident, tuple(terms), bool(rest and rest[0]))


@dataclass(slots=True)
class Baseline:
    """EWMA of negatives per bucket (one burst window long), over closed buckets only.

    Buckets without negatives count as zeros when the next negative arrives, so
    the value decays through quiet hours.  A late negative for a closed bucket is
    counted in the current one (close enough for a baseline, and deterministic).
    """

    ewma: float = 0.0
    bucket: int | None = None
    count: int = 0

    def observe(self, ts_ms: int, bucket_ms: int, alpha: float) -> None:
        bucket = ts_ms // bucket_ms
        if self.bucket is None:
            self.bucket = bucket
        elif bucket > self.bucket:
            self.ewma = alpha * self.count + (1 - alpha) * self.ewma
            self.ewma *= (1 - alpha) ** (bucket - self.bucket - 1)
            self.bucket, self.count = bucket, 0
        self.count += 1

    def to_wire(self) -> list[Any]:
        return [self.ewma, self.bucket, self.count]

    @classmethod
    def from_wire(cls, data: list[Any] | None) -> Baseline:
        if not data:
            return cls()
        ewma, bucket, count = data
        return cls(float(ewma), None if bucket is None else int(bucket), int(count))


@dataclass(slots=True)
class CommunityState:
    """Escalation state of one community (its table value)."""

    watermark_ms: int = 0
    seen: dict[str, int] = field(default_factory=dict)
    pending: dict[str, list[tuple[str, str, int]]] = field(default_factory=dict)
    """Reply target id -> (reply id, member ref, ts ms) of replies waiting for it."""
    recent: list[RecentNegative] = field(default_factory=list)
    baseline: Baseline = field(default_factory=Baseline)
    incidents: dict[str, Incident] = field(default_factory=dict)
    current_id: str | None = None

    def current(self) -> Incident | None:
        """The incident that takes new negatives, unless it was closed."""
        incident = self.incidents.get(self.current_id or "")
        return None if incident is None or incident.closed else incident

    def open_incidents(self) -> list[Incident]:
        return [i for i in self.incidents.values() if not i.closed]

    def add(self, incident: Incident) -> None:
        self.incidents[incident.incident_id] = incident
        self.current_id = incident.incident_id

    def prune(self, policy: EscalationPolicy) -> None:
        """Forget what the watermark has left behind, and bound the incidents kept."""
        ttl_ms = int(policy.dedup_ttl.total_seconds() * 1000)
        horizon = self.watermark_ms - ttl_ms
        stale = []
        for message_id, ts in self.seen.items():  # oldest first, as they were added
            if ts >= horizon:
                break  # a late one further on goes when it reaches the front
            stale.append(message_id)
        for message_id in stale:
            del self.seen[message_id]
        window_ms = int(max(policy.cluster_window, policy.burst_window).total_seconds() * 1000)
        self.recent = [r for r in self.recent if r.ts_ms > self.watermark_ms - window_ms]
        cluster_ms = int(policy.cluster_window.total_seconds() * 1000)
        pending = {target: [r for r in replies if r[2] > self.watermark_ms - cluster_ms]
                   for target, replies in self.pending.items()}
        self.pending = {target: replies for target, replies in pending.items() if replies}
        for key, incident in list(self.incidents.items()):
            if incident.closed and to_ms(incident.alert.updated_at) < horizon:
                del self.incidents[key]
        while len(self.incidents) > policy.max_incidents:
            ranked = sorted(self.incidents.values(),
                            key=lambda i: (not i.closed, i.alert.opened_at, i.incident_id))
            del self.incidents[ranked[0].incident_id]
        if self.current_id not in self.incidents:
            self.current_id = None

    def to_wire(self) -> dict[str, Any]:
        return {
            "wm": self.watermark_ms,
            "seen": dict(self.seen),
            "pending": {t: [list(r) for r in replies] for t, replies in self.pending.items()},
            "recent": [r.to_wire() for r in self.recent],
            "baseline": self.baseline.to_wire(),
            "incidents": [i.to_wire() for i in self.incidents.values()],
            "current": self.current_id,
        }

    @classmethod
    def from_wire(cls, data: dict[str, Any] | None) -> CommunityState:
        if not data:
            return cls()
        incidents = [Incident.from_wire(i) for i in data.get("incidents", [])]
        return cls(
            watermark_ms=int(data.get("wm", 0)),
            seen=dict(data.get("seen", {})),
            pending={t: [(r[0], r[1], int(r[2])) for r in replies]
                     for t, replies in data.get("pending", {}).items()},
            recent=[RecentNegative.from_wire(r) for r in data.get("recent", [])],
            baseline=Baseline.from_wire(data.get("baseline")),
            incidents={i.incident_id: i for i in incidents},
            current_id=data.get("current"),
        )
