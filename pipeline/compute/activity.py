"""Per-community event-time minute windows: messages, speakers (members) and senders.

Pure logic, no Kafka: the Faust agent loads the touched state, calls
:func:`apply_batch`, and writes back what changed.  Exactness under
at-least-once delivery comes from the state itself: a window holds the set of
message ids it counted, so a redelivered message is recognised and ignored,
and replaying a batch after a crash converges to the same sets.

Event time: each source partition keeps a watermark (the highest event time
seen on it, like Kafka Streams' stream time).  A window accepts events until
the watermark passes ``window_end + allowed_lateness``; then it is emitted once
more as final and its state is dropped.  Later events for it are counted as
too late (they still reach raw storage, so SQL over raw events sees them).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol, TypeVar

from schemas.events import ChatMessage
from schemas.outputs import CommunityMinuteActivity

WINDOW_MS = 60_000


class Windowed(Protocol):
    @property
    def community_id(self) -> str: ...
    @property
    def window_start(self) -> datetime: ...
    @property
    def is_final(self) -> bool: ...


def window_start_ms(ts_ms: int, size_ms: int = WINDOW_MS) -> int:
    """Start of the tumbling window holding ``ts_ms``."""
    return ts_ms - ts_ms % size_ms


def window_key(community_id: str, start_ms: int) -> str:
    """Table key of one community's window; the start is the part after the last ``|``."""
    return f"{community_id}|{start_ms}"


def split_window_key(key: str) -> tuple[str, int]:
    community_id, _, start = key.rpartition("|")
    return community_id, int(start)


def to_millis(ts: datetime) -> int:
    return int(ts.timestamp() * 1000)


@dataclass(slots=True)
class WindowState:
    """What a window has counted so far; sets make re-application idempotent."""

    message_ids: set[str] = field(default_factory=set)
    speaker_ids: set[str] = field(default_factory=set)
    """Members (sender role member) who posted."""
    other_sender_ids: set[str] = field(default_factory=set)
    """Staff and bots who posted (counted in ``senders`` only)."""

    def to_wire(self) -> dict[str, list[str]]:
        return {"m": sorted(self.message_ids), "s": sorted(self.speaker_ids),
                "o": sorted(self.other_sender_ids)}

    @classmethod
    def from_wire(cls, data: dict[str, list[str]] | None) -> WindowState:
        if not data:
            return cls()
        return cls(set(data.get("m", ())), set(data.get("s", ())), set(data.get("o", ())))


@dataclass(slots=True)
class PartitionClock:
    """Watermark of one source partition and the windows it still holds open."""

    watermark_ms: int = 0
    open_windows: set[str] = field(default_factory=set)

    def to_wire(self) -> dict[str, object]:
        return {"wm": self.watermark_ms, "open": sorted(self.open_windows)}

    @classmethod
    def from_wire(cls, data: dict | None) -> PartitionClock:
        if not data:
            return cls()
        return cls(int(data.get("wm", 0)), set(data.get("open", ())))


@dataclass(slots=True)
class BatchResult:
    """Everything the wiring must persist and publish after one batch."""

    changed: dict[str, WindowState] = field(default_factory=dict)
    finalized: dict[str, WindowState] = field(default_factory=dict)
    counted: list[ChatMessage] = field(default_factory=list)
    duplicates: int = 0
    too_late: int = 0

    def updates(self) -> list[CommunityMinuteActivity]:
        """Output records: changed windows still open, then finalized ones."""
        records = [
            to_record(key, state, final=False)
            for key, state in self.changed.items()
            if key not in self.finalized
        ]
        records += [to_record(key, state, final=True) for key, state in self.finalized.items()]
        return records


def to_record(key: str, state: WindowState, final: bool) -> CommunityMinuteActivity:
    """The published form of a window. ``revision`` grows with every change."""
    community_id, start_ms = split_window_key(key)
    messages = len(state.message_ids)
    return CommunityMinuteActivity(
        community_id=community_id,
        window_start=datetime.fromtimestamp(start_ms / 1000, UTC),
        window_end=datetime.fromtimestamp((start_ms + WINDOW_MS) / 1000, UTC),
        messages=messages,
        speakers=len(state.speaker_ids),
        senders=len(state.speaker_ids | state.other_sender_ids),
        is_final=final,
        revision=2 * messages + int(final),
    )


def apply_batch(
    clock: PartitionClock,
    load: Callable[[str], WindowState | None],
    messages: Iterable[ChatMessage],
    allowed_lateness_ms: int,
) -> BatchResult:
    """Apply one partition's messages, in offset order, to its windows.

    ``clock`` is updated in place; ``load`` returns a window's stored state.
    """
    result = BatchResult()
    working: dict[str, WindowState] = {}
    for message in messages:
        ts_ms = to_millis(message.ts)
        start = window_start_ms(ts_ms)
        key = window_key(message.community_id, start)
        if start + WINDOW_MS + allowed_lateness_ms <= clock.watermark_ms:
            # decided by arrival order alone, not by where a batch ends
            result.too_late += 1
            continue
        state = working.get(key)
        if state is None:
            state = (load(key) or WindowState()) if key in clock.open_windows else WindowState()
            working[key] = state
        if message.message_id in state.message_ids:
            result.duplicates += 1
        else:
            state.message_ids.add(message.message_id)
            if message.sender_role == "member":
                state.speaker_ids.add(message.member_id)
            else:
                state.other_sender_ids.add(message.member_id)
            result.changed[key] = state
            result.counted.append(message)
        clock.open_windows.add(key)
        clock.watermark_ms = max(clock.watermark_ms, ts_ms)

    for key in sorted(clock.open_windows):
        _, start = split_window_key(key)
        if start + WINDOW_MS + allowed_lateness_ms <= clock.watermark_ms:
            state = working.get(key)
            if state is None:
                state = load(key) or WindowState()
            result.finalized[key] = state
    clock.open_windows.difference_update(result.finalized)
    return result


W = TypeVar("W", bound=Windowed)


def latest_final_by_community(records: Iterable[W]) -> dict[str, W]:
    """Each community's most recent final window among ``records`` (the gauges of the last
    closed minute or day)."""
    latest: dict[str, W] = {}
    for record in records:
        if record.is_final:
            current = latest.get(record.community_id)
            if current is None or record.window_start > current.window_start:
                latest[record.community_id] = record
    return latest
