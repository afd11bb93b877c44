"""Spread across communities: the same complaint turning up in several groups at once.

Every negative message yields one :class:`SpreadSignal` per fingerprint (each
complaint or crisis term it uses, and its normalised text, so copy-pasted
complaints match).  Signals are keyed by fingerprint, so one
:class:`SpreadState` sees one fingerprint from every community.  When
``spread_communities`` communities each have ``spread_min_messages`` negatives
with it within ``spread_window_minutes``, every involved community gets one
``spread`` command (again whenever more communities join), which upgrades its
open incident to severe and lists the others.  An active period ends when the
window empties; the next one starts afresh.  Ids and times derive from the
input only, so a replay yields the same commands (and the community side
ignores command ids it has applied).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pipeline.compute.escalation.lifecycle import command_id
from pipeline.compute.escalation.policy import EscalationPolicy
from pipeline.compute.escalation.signals import MessageSignal
from schemas.alerts import IncidentCommand

MAX_TERMS = 10


@dataclass(frozen=True, slots=True)
class SpreadSignal:
    """One negative message under one fingerprint (the spread partition's input)."""

    fingerprint: str
    community_id: str
    message_id: str
    ts_ms: int
    terms: tuple[str, ...] = ()

    def to_wire(self) -> dict[str, Any]:
        return {"fp": self.fingerprint, "c": self.community_id, "m": self.message_id,
                "ts": self.ts_ms, "terms": list(self.terms)}

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> SpreadSignal:
        return cls(data["fp"], data["c"], data["m"], int(data["ts"]), tuple(data["terms"]))


def spread_signals(signal: MessageSignal) -> list[SpreadSignal]:
    """What a negative message sends to the spread detector (nothing for others)."""
    if not signal.negative:
        return []
    return [SpreadSignal(fp, signal.community_id, signal.message_id, signal.ts_ms,
                         signal.terms.graded) for fp in signal.fingerprints]


@dataclass(slots=True)
class SpreadState:
    """One fingerprint's recent negatives, by community, and whom it already told."""

    watermark_ms: int = 0
    entries: list[SpreadSignal] = field(default_factory=list)
    seen: dict[str, int] = field(default_factory=dict)
    since_ms: int = 0
    """Start of the current active period (part of the command ids)."""
    notified: dict[str, int] = field(default_factory=dict)
    """Community -> number of communities involved when it was last commanded."""

    def to_wire(self) -> dict[str, Any]:
        return {"wm": self.watermark_ms, "entries": [e.to_wire() for e in self.entries],
                "seen": dict(self.seen), "since": self.since_ms,
                "notified": dict(self.notified)}

    @classmethod
    def from_wire(cls, data: dict[str, Any] | None) -> SpreadState:
        if not data:
            return cls()
        return cls(
            watermark_ms=int(data.get("wm", 0)),
            entries=[SpreadSignal.from_wire(e) for e in data.get("entries", [])],
            seen={m: int(ts) for m, ts in data.get("seen", {}).items()},
            since_ms=int(data.get("since", 0)),
            notified={c: int(n) for c, n in data.get("notified", {}).items()},
        )


def _prune(state: SpreadState, policy: EscalationPolicy) -> None:
    window_ms = int(policy.spread_window.total_seconds() * 1000)
    ttl_ms = int(policy.dedup_ttl.total_seconds() * 1000)
    state.entries = [e for e in state.entries if e.ts_ms > state.watermark_ms - window_ms]
    state.seen = {m: ts for m, ts in state.seen.items() if ts >= state.watermark_ms - ttl_ms}


def observe(state: SpreadState, signal: SpreadSignal,
            policy: EscalationPolicy) -> list[IncidentCommand]:
    """Add one signal to its fingerprint's state (in place); spread commands now due."""
    window_ms = int(policy.spread_window.total_seconds() * 1000)
    if signal.message_id in state.seen or signal.ts_ms <= state.watermark_ms - window_ms:
        return []
    state.watermark_ms = max(state.watermark_ms, signal.ts_ms)
    _prune(state, policy)
    if not state.entries:
        state.since_ms, state.notified = signal.ts_ms, {}
    state.entries.append(signal)
    state.seen[signal.message_id] = signal.ts_ms
    counts = Counter(e.community_id for e in state.entries)
    involved = sorted(c for c, n in counts.items() if n >= policy.spread_min_messages)
    if len(involved) < policy.spread_communities:
        return []
    terms = list(dict.fromkeys(t for e in state.entries for t in e.terms))[:MAX_TERMS]
    digest = hashlib.blake2b(signal.fingerprint.encode(), digest_size=6).hexdigest()
    shared = f": {', '.join(terms)}" if terms else ""
    note = (f"同一投诉在 {len(involved)} 个社群出现{shared}"
            f" / same complaint in {len(involved)} communities")
    at = datetime.fromtimestamp(signal.ts_ms / 1000, UTC)
    commands = []
    for community in involved:
        if state.notified.get(community, 0) >= len(involved):
            continue
        state.notified[community] = len(involved)
        commands.append(IncidentCommand(
            command_id=command_id("spread", digest, str(state.since_ms), community,
                                  str(len(involved))),
            kind="spread", incident_id=None, community_id=community, actor="system",
            note=note, issued_at=at,
            related_communities=[c for c in involved if c != community], terms=terms,
        ))
    return commands
