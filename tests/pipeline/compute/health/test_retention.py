"""Retention cohorts: channel ids, counting at day ends, and the published records."""

from __future__ import annotations

from datetime import date

from pipeline.compute.health.community import CommunityState
from pipeline.compute.health.members import MemberRecord
from pipeline.compute.health.retention import (
    NO_CHANNEL,
    OTHER_CHANNEL,
    UNKNOWN,
    channel_id,
    channel_label,
    cohort_records,
    evaluate_day,
    join_channel,
    latest_rates,
)

DAY = date(2026, 11, 2).toordinal()


def test_the_channel_is_the_utm_channel_else_the_qr_code() -> None:
    assert join_channel("poster", "qr-1") == "poster"
    assert join_channel(None, "qr-1") == join_channel("", "qr-1") == "qr-1"
    assert join_channel(None, None) is None and join_channel("", "") is None


def test_channels_are_numbered_in_order_and_capped() -> None:
    channels: list[str] = []
    assert [channel_id(channels, name, cap=2) for name in (
        "poster", "qr-1", "poster", "article", None, "", "other", "*", "(none)", "qr-1")] == [
        2, 3, 2, OTHER_CHANNEL, NO_CHANNEL, NO_CHANNEL, OTHER_CHANNEL, OTHER_CHANNEL,
        NO_CHANNEL, 3]
    assert channels == ["poster", "qr-1"]
    assert [channel_label(channels, i) for i in (0, 1, 2, 3, 9)] == [
        "(none)", "other", "poster", "qr-1", "other"]


def test_a_day_end_counts_its_cohort_and_the_cohorts_of_days_1_7_and_30_before() -> None:
    cohorts: dict = {}
    joined = [(DAY, 2, False), (DAY, 2, True), (DAY, 0, False)]
    assert evaluate_day(cohorts, DAY, joined) == {
        DAY: {0: [1, UNKNOWN, UNKNOWN, UNKNOWN], 2: [2, UNKNOWN, UNKNOWN, UNKNOWN]}}
    next_day = [(DAY, 2, True), (DAY, 2, True), (DAY, 0, False), (DAY + 1, 3, True),
                (DAY - 3, 2, True)]  # day 4 of an older cohort: not judged
    judged = evaluate_day(cohorts, DAY + 1, next_day)
    assert judged == {DAY: {0: [1, 0, UNKNOWN, UNKNOWN], 2: [2, 2, UNKNOWN, UNKNOWN]},
                      DAY + 1: {3: [1, UNKNOWN, UNKNOWN, UNKNOWN]}}
    assert evaluate_day(cohorts, DAY + 1, next_day) == judged  # recomputed, not added
    assert evaluate_day(cohorts, DAY + 2, []) == {} and set(cohorts) == {DAY, DAY + 1}
    evaluate_day(cohorts, DAY + 7, [(DAY, 2, False), (DAY, 2, True), (DAY, 0, True)])
    final = evaluate_day(cohorts, DAY + 30, [(DAY, 2, True), (DAY, 2, False), (DAY, 0, False)])
    assert final == {DAY: {0: [1, 0, 1, 0], 2: [2, 2, 1, 1]}}
    assert DAY not in cohorts and set(cohorts) == {DAY + 1}  # final cohorts are dropped


def test_records_of_a_cohort_sum_its_channels() -> None:
    counts = {0: [1, 0, 1, UNKNOWN], 2: [2, 2, 1, UNKNOWN], 1: [1, 1, 0, UNKNOWN]}
    records = cohort_records("c1", DAY, counts, ["poster"], "Asia/Shanghai",
                             lambda final: 10 + final)
    by_channel = {r.channel: r for r in records}
    assert set(by_channel) == {"*", "(none)", "poster", "other"}
    whole = by_channel["*"]
    assert (whole.cohort_size, whole.retained_d1, whole.retained_d7, whole.retained_d30) == (
        4, 3, 2, None)
    assert (whole.retention_d1, whole.retention_d7, whole.retention_d30) == (0.75, 0.5, None)
    assert whole.cohort_day == date(2026, 11, 2) and whole.key == "c1|2026-11-02|*"
    assert not whole.is_final and whole.revision == 10
    final = cohort_records("c1", DAY, {2: [3, 1, 1, 1]}, ["poster"], "Asia/Shanghai",
                           lambda final: 10 + final)
    assert [(r.channel, r.is_final, r.revision, r.retention_d30) for r in final] == [
        ("*", True, 11, round(1 / 3, 6)), ("poster", True, 11, round(1 / 3, 6))]


def test_latest_rates_take_the_latest_whole_cohort_per_day() -> None:
    older = cohort_records("c1", DAY, {2: [4, 2, 1, UNKNOWN]}, ["poster"], "UTC", lambda f: 1)
    newer = cohort_records("c1", DAY + 6, {2: [2, 1, UNKNOWN, UNKNOWN]}, ["poster"], "UTC",
                           lambda f: 1)
    assert latest_rates(newer + older) == {("c1", "d1"): 0.5, ("c1", "d7"): 0.25}


def test_cohort_state_and_member_channel_travel_on_the_wire() -> None:
    state = CommunityState(channels=["poster"], cohorts={DAY: {2: [3, 1, UNKNOWN, UNKNOWN]}},
                           retention_through=DAY + 1)
    assert CommunityState.from_wire(state.to_wire()) == state
    old = state.to_wire()
    for key in ("ch", "co", "rt"):
        del old[key]
    assert CommunityState.from_wire(old) == CommunityState()  # saved before cohorts existed
    record = MemberRecord(day=DAY, joined_ms=5, channel=3)
    assert record.to_wire() == [DAY, 0, 0, 5, 0, 0, 3]
    assert MemberRecord.from_wire(record.to_wire()) == record
    assert MemberRecord(day=DAY, status=1).to_wire() == [DAY, 0, 0, 0, 0, 1]
