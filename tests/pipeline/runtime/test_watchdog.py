"""Commit-stall watchdog: a partition with lag whose committed offset stops moving is
stalled, for as long as it does not move; anything else is not."""

from __future__ import annotations

from pipeline.runtime.watchdog import (
    CommitWatchdog,
    Observation,
    Partition,
    Stall,
    WatchdogReport,
    lag,
)

CHAT0 = Partition("community.chat.messages.v1", 0)
CHAT1 = Partition("community.chat.messages.v1", 1)


def seen(tp: Partition, committed: int | None, end: int | None) -> Observation:
    return Observation(tp, committed, end)


def run(watchdog: CommitWatchdog, checks: list[tuple[float, list[Observation]]]
        ) -> WatchdogReport:
    """Feed checks ``(now, observations)`` in order; the last report."""
    report = watchdog.last
    for now, observations in checks:
        report = watchdog.check(observations, now)
    return report


def test_lag_counts_from_the_committed_offset_and_never_goes_negative() -> None:
    assert lag(100, 150) == 50
    assert lag(None, 7) == 7  # nothing committed yet: the whole partition is behind
    assert lag(None, 0) == 0
    assert lag(200, 150) == 0  # end offset seen before the latest commit
    assert lag(100, None) is None


def test_a_partition_behind_whose_commit_does_not_move_is_stalled_for_as_long() -> None:
    watchdog = CommitWatchdog(threshold_s=300)
    report = run(watchdog, [(t, [seen(CHAT0, 100, 150 + t)]) for t in (0, 15, 200, 320)])
    assert report.seconds == {CHAT0: 320}
    assert report.stalled == (Stall(CHAT0.topic, 0, 320),)
    assert watchdog.last is report


def test_the_first_check_starts_the_clock_at_zero() -> None:
    report = CommitWatchdog(300).check([seen(CHAT0, 100, 150)], now=1000.0)
    assert report.seconds == {CHAT0: 0.0}
    assert report.stalled == ()


def test_any_move_of_the_committed_offset_restarts_the_clock() -> None:
    watchdog = CommitWatchdog(300)
    run(watchdog, [(0, [seen(CHAT0, 100, 150)]), (290, [seen(CHAT0, 100, 160)])])
    report = run(watchdog, [(305, [seen(CHAT0, 101, 170)]), (400, [seen(CHAT0, 101, 180)])])
    assert report.seconds == {CHAT0: 95}
    assert report.stalled == ()
    # a commit going back (reset offsets) is movement too
    assert watchdog.check([seen(CHAT0, 90, 180)], 500).seconds == {CHAT0: 0}


def test_a_busy_partition_committing_at_every_check_is_never_stalled() -> None:
    watchdog = CommitWatchdog(30)
    checks = [(15.0 * i, [seen(CHAT0, 1000 * i, 1000 * i + 500)]) for i in range(100)]
    assert all(watchdog.check(obs, now).seconds == {CHAT0: 0} for now, obs in checks)


def test_no_lag_never_stalls_however_long_the_commit_stays() -> None:
    watchdog = CommitWatchdog(300)
    report = run(watchdog, [(t, [seen(CHAT0, 100, 100)]) for t in range(0, 3600, 15)])
    assert report.seconds == {CHAT0: 0}
    assert report.stalled == ()
    # an empty partition that never committed is not behind either
    assert watchdog.check([seen(CHAT1, None, 0)], 4000).seconds == {CHAT1: 0}


def test_caught_up_resets_and_new_lag_starts_a_new_stall() -> None:
    watchdog = CommitWatchdog(300)
    run(watchdog, [(0, [seen(CHAT0, 100, 150)]), (250, [seen(CHAT0, 100, 150)])])
    run(watchdog, [(260, [seen(CHAT0, 100, 100)])])  # end read at the committed offset
    report = run(watchdog, [(270, [seen(CHAT0, 100, 101)]), (400, [seen(CHAT0, 100, 101)])])
    assert report.seconds == {CHAT0: 130}


def test_never_committed_with_records_waiting_is_a_stall() -> None:
    report = run(CommitWatchdog(300), [(0, [seen(CHAT0, None, 5)]), (300, [seen(CHAT0, None, 5)])])
    assert report.stalled == (Stall(CHAT0.topic, 0, 300),)


def test_an_unknown_end_offset_starts_no_stall() -> None:
    watchdog = CommitWatchdog(300)
    report = run(watchdog, [(t, [seen(CHAT0, 100, None)]) for t in (0, 200, 400)])
    assert report.seconds == {CHAT0: 0}
    # once the end offset is known, the clock starts from then, not from the first check
    assert watchdog.check([seen(CHAT0, 100, 120)], 500).seconds == {CHAT0: 0}


def test_an_unknown_end_offset_neither_ends_nor_hides_a_running_stall() -> None:
    watchdog = CommitWatchdog(300)
    run(watchdog, [(0, [seen(CHAT0, 100, 150)])])
    report = run(watchdog, [(200, [seen(CHAT0, 100, None)]), (310, [seen(CHAT0, 100, None)])])
    assert report.stalled == (Stall(CHAT0.topic, 0, 310),)
    # ... but a commit while the end is unknown ends it
    assert watchdog.check([seen(CHAT0, 120, None)], 320).seconds == {CHAT0: 0}


def test_revoked_partitions_are_forgotten_and_start_afresh_when_reassigned() -> None:
    watchdog = CommitWatchdog(300)
    run(watchdog, [(0, [seen(CHAT0, 100, 150), seen(CHAT1, 7, 9)])])
    report = watchdog.check([seen(CHAT1, 7, 9)], 200)
    assert report.forgotten == (CHAT0,)
    assert report.seconds == {CHAT1: 200}
    assert watchdog.check([seen(CHAT1, 7, 9)], 210).forgotten == ()
    # back on this worker: a new stall, not the old one resumed
    report = watchdog.check([seen(CHAT0, 100, 150), seen(CHAT1, 7, 9)], 400)
    assert report.seconds == {CHAT0: 0, CHAT1: 400}
    assert report.forgotten == ()


def test_nothing_assigned_forgets_everything() -> None:
    watchdog = CommitWatchdog(300)
    run(watchdog, [(0, [seen(CHAT1, 7, 9), seen(CHAT0, 1, 9)])])
    assert watchdog.check([], 600) == WatchdogReport({}, (), (CHAT0, CHAT1))


def test_the_threshold_is_inclusive_and_stalls_are_listed_in_partition_order() -> None:
    def last_check(threshold_s: float) -> WatchdogReport:
        both = [seen(CHAT1, 1, 5), seen(CHAT0, 1, 5)]
        return run(CommitWatchdog(threshold_s),
                   [(0, [seen(CHAT1, 1, 5)]), (10, both), (70, both)])

    report = last_check(60)
    assert report.seconds == {CHAT0: 60, CHAT1: 70}
    assert list(report.seconds) == [CHAT0, CHAT1]
    assert report.stalled == (Stall(CHAT0.topic, 0, 60), Stall(CHAT1.topic, 1, 70))
    assert last_check(61).stalled == (Stall(CHAT1.topic, 1, 70),)
    assert last_check(71).stalled == ()
