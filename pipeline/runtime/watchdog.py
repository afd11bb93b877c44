"""Commit-stall watchdog: which assigned partitions have stopped committing.

A restarted worker has been seen to stop committing one input partition for
good, without any error (DESIGN.md, "Delivery guarantees"); whatever the cause,
it shows as a partition with messages beyond its committed offset whose
committed offset no longer moves.  :class:`CommitWatchdog` judges that from
periodic observations alone (pure: the caller supplies the clock), so the same
logic serves the Prometheus gauge, ``/health`` and tests.

Rules, per partition (offsets as Kafka counts them: the committed offset and
the end offset both name the *next* record):

- **lag** is ``end - committed``, an unknown committed offset counting as 0
  (Faust records a commit of 0, or none yet, as ``None``); it is unknown while
  the end offset is unknown (the consumer has not fetched the partition yet);
- a partition is **stalled since** the first check at which it had lag with
  the committed offset it still has; any change of the committed offset, or a
  check with no lag, restarts that clock;
- a check with an unknown end offset is no evidence either way: a running
  stall keeps running (if the committed offset did not move), none starts;
- a partition missing from a check (revoked) is forgotten.

Stall seconds are therefore a lower bound, short by up to one check interval.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple


class Partition(NamedTuple):
    """A topic partition (Faust's ``TP`` is one)."""

    topic: str
    partition: int


@dataclass(frozen=True, slots=True)
class Observation:
    """What the consumer knows of one assigned partition at a check."""

    tp: Partition
    committed: int | None
    """Offset committed by this consumer (next record to read); None: none, or 0."""
    end: int | None
    """End offset (high watermark); None: not known yet."""


@dataclass(frozen=True, slots=True)
class Stall:
    """A partition stalled at least the threshold, as ``/health`` lists it."""

    topic: str
    partition: int
    seconds: float


@dataclass(frozen=True, slots=True)
class WatchdogReport:
    """The outcome of one check."""

    seconds: dict[Partition, float]
    """Stall seconds of every partition checked (0 when not stalled)."""
    stalled: tuple[Stall, ...]
    """Partitions stalled for ``threshold_s`` or longer, in partition order."""
    forgotten: tuple[Partition, ...]
    """Partitions of the previous check absent from this one (revoked)."""


@dataclass(frozen=True, slots=True)
class _Track:
    committed: int | None
    since: float | None
    """Monotonic time the current stall started; None when not stalled."""


def lag(committed: int | None, end: int | None) -> int | None:
    """Records past the committed offset; None when the end offset is unknown."""
    if end is None:
        return None
    return max(0, end - (committed or 0))


EMPTY_REPORT = WatchdogReport({}, (), ())


class CommitWatchdog:
    """Tracks, per assigned partition, since when its committed offset has not moved
    while it had lag."""

    def __init__(self, threshold_s: float) -> None:
        self.threshold_s = threshold_s
        self._tracks: dict[Partition, _Track] = {}
        self.last: WatchdogReport = EMPTY_REPORT
        """The latest report (``/health`` reads it between checks)."""

    def check(self, observations: Iterable[Observation], now: float) -> WatchdogReport:
        """Judge one observation per assigned partition at monotonic time ``now``."""
        tracks = {o.tp: self._next(self._tracks.get(o.tp), o, now) for o in observations}
        forgotten = tuple(sorted(tp for tp in self._tracks if tp not in tracks))
        self._tracks = tracks
        seconds = {tp: 0.0 if t.since is None else now - t.since
                   for tp, t in sorted(tracks.items())}
        stalled = tuple(Stall(tp.topic, tp.partition, seconds[tp]) for tp in seconds
                        if tracks[tp].since is not None and seconds[tp] >= self.threshold_s)
        self.last = WatchdogReport(seconds, stalled, forgotten)
        return self.last

    @staticmethod
    def _next(previous: _Track | None, observation: Observation, now: float) -> _Track:
        running = None  # the stall still under way: committed offset unchanged since
        if previous is not None and observation.committed == previous.committed:
            running = previous.since
        behind = lag(observation.committed, observation.end)
        if behind == 0:
            since = None
        elif behind is None:
            since = running
        else:
            since = now if running is None else running
        return _Track(observation.committed, since)
