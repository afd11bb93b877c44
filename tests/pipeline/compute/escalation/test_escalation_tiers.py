"""Tier rules: one scenario per rule, with the record each change produces."""

from __future__ import annotations

from datetime import timedelta

import pytest

from pipeline.compute.escalation import DEFAULT_POLICY as P
from pipeline.compute.escalation import CommunityState, assess, handle_command
from pipeline.compute.escalation.community import Baseline
from schemas.alerts import IncidentCommand
from tests.pipeline.compute.escalation.factory import (
    UNSURE,
    Table,
    at,
    chat,
    negative,
    signal,
)


def test_isolated_negative_opens_one_mild_incident_with_deadlines() -> None:
    table = Table()
    records = table.run([negative("m1", 0)])
    assert [(r.event, r.tier, r.status, r.revision) for r in records] == [
        ("opened", "mild", "open", 1)]
    alert = records[0]
    assert alert.incident_id == "inc-c1-m1"
    assert (alert.opened_at, alert.window_start, alert.window_end) == (at(0), at(0), at(0))
    assert (alert.negative_messages, alert.members, alert.heat) == (1, 1, 0)
    assert alert.min_score == alert.mean_score == 0.01
    assert alert.sla.respond_by == at(0) + timedelta(hours=3)
    assert alert.sla.close_loop_by == at(0) + timedelta(hours=48)
    assert alert.sla.statement_by is None
    assert alert.reasons == ["成员负面反馈 / negative feedback from a member"]
    assert [e.message_id for e in alert.excerpts] == ["m1"]


def test_one_complaint_term_is_mild_two_terms_are_moderate() -> None:
    single = Table().run([signal(chat("m1", 0, "质量太差了，想退货"), UNSURE)])
    assert single[0].tier == "mild"
    assert single[0].matched_terms == ["退货"]
    double = Table().run([signal(chat("m1", 0, "客服一直不回复，我要投诉"), UNSURE)])
    assert [(r.event, r.tier) for r in double] == [("opened", "moderate")]
    assert double[0].matched_terms == ["客服", "投诉"]
    assert double[0].reasons[0].startswith("投诉词: 客服, 投诉")


def test_complaint_terms_from_two_members_upgrade_to_moderate() -> None:
    table = Table()
    table.run([signal(chat("m1", 0, "质量太差了，想退货", member="a"), UNSURE)])
    records = table.run([signal(chat("m2", 5, "我也想退货", member="b"), UNSURE)])
    assert [(r.event, r.tier, r.revision, r.updated_at) for r in records] == [
        ("upgraded", "moderate", 2, at(5))]
    assert records[0].incident_id == "inc-c1-m1"


def supporting(message_id: str, minutes: float, member: str):
    """A probably-negative message: evidence, a score between the two thresholds."""
    found = signal(chat(message_id, minutes, "服务态度极差", member=member),
                   (P.evidence_max_score + P.supporting_score) / 2)
    assert found.supporting and not found.negative
    return found


def test_supporting_members_complete_a_cluster_but_never_open_an_incident() -> None:
    table = Table()
    assert table.run([supporting("m1", 0, "a"), supporting("m2", 1, "b")]) == []
    records = table.run([negative("m3", 2, member="c")])
    assert [(r.event, r.tier, r.members) for r in records] == [("opened", "moderate", 1)]
    assert records[0].reasons[0].startswith("3 位成员 30 分钟内负面")
    assert [e.message_id for e in records[0].excerpts] == ["m3"]  # only negatives are shown


def test_supporting_members_do_not_make_a_large_cluster_severe() -> None:
    table = Table()
    table.run([supporting(f"s{i}", i, f"s{i}") for i in range(P.severe_members)])
    records = table.run([negative("m1", 9, member="a")])
    assert [(r.event, r.tier) for r in records] == [("opened", "moderate")]


def test_supporting_messages_outside_the_cluster_window_do_not_count() -> None:
    table = Table()
    table.run([supporting("m1", 0, "a"), supporting("m2", 1, "b")])
    records = table.run([negative("m3", P.cluster_window_minutes + 2, member="c")])
    assert [(r.event, r.tier) for r in records] == [("opened", "mild")]


def test_repeat_negatives_from_one_member_are_moderate() -> None:
    table = Table()
    table.run([negative("m1", 0), negative("m2", 4)])
    assert table.only().tier == "mild"
    records = table.run([negative("m3", 9)])
    assert [(r.event, r.tier) for r in records] == [("upgraded", "moderate")]
    assert "同一成员 30 分钟内 3 条负面" in records[0].reasons[0]
    assert (records[0].negative_messages, records[0].members) == (3, 1)


def test_three_members_within_the_window_are_moderate_but_not_spread_over_hours() -> None:
    table = Table()
    records = table.run([negative("m1", 0, "a"), negative("m2", 3, "b"), negative("m3", 7, "c")])
    assert [(r.event, r.tier, r.revision, r.updated_at) for r in records] == [
        ("opened", "mild", 1, at(0)), ("upgraded", "moderate", 2, at(7))]
    assert {r.incident_id for r in records} == {"inc-c1-m1"}
    slow = Table()
    slow.run([negative("m1", 0, "a"), negative("m2", 40, "b"), negative("m3", 80, "c")])
    assert slow.only().tier == "mild"
    assert slow.only().members == 3


def test_crisis_term_is_severe_at_once_with_a_statement_deadline() -> None:
    table = Table()
    table.run([negative("m1", 0, "a")])
    records = table.run([signal(chat("m2", 2, "再不处理我就找媒体曝光", member="b"), UNSURE)])
    assert [(r.event, r.tier) for r in records] == [("upgraded", "severe")]
    alert = records[0]
    assert alert.matched_terms == ["媒体", "曝光"]
    assert alert.reasons[0] == "危机词: 媒体, 曝光 / crisis terms"
    assert alert.sla.statement_by == at(2) + timedelta(hours=24)


def test_large_cluster_is_severe() -> None:
    table = Table()
    table.run([negative(f"m{i}", i * 3, member=f"u{i}") for i in range(7)])
    assert table.only().tier == "moderate"
    records = table.run([negative("m7", 21, member="u7")])
    assert [(r.event, r.tier) for r in records] == [("upgraded", "severe")]
    assert "8 位成员 30 分钟内负面" in records[0].reasons[0]


def test_burst_against_baseline_is_severe() -> None:
    burst = [negative(f"m{i}", i * 0.5, member="abc"[i % 3]) for i in range(15)]
    table = Table()
    records = table.run(burst)
    assert records[-1].tier == "severe"
    assert records[-1].updated_at == at(7)  # the 15th negative
    assert records[-1].reasons[0].startswith("负面激增: 10 分钟内 15 条")


def test_a_noisy_community_needs_a_bigger_burst() -> None:
    bucket = int(at(0).timestamp() * 1000) // (10 * 60_000)
    state = CommunityState(baseline=Baseline(ewma=5.0, bucket=bucket - 1))
    burst = [negative(f"m{i}", i * 0.45, member="abc"[i % 3]) for i in range(20)]
    records = assess(state, burst[:19], P)
    assert all(r.tier == "moderate" for r in records[1:])  # 19 < 4 x 5
    records = assess(state, burst[19:], P)
    assert [(r.event, r.tier) for r in records] == [("upgraded", "severe")]


def test_baseline_decays_through_quiet_buckets() -> None:
    baseline = Baseline()
    for minute in range(0, 60, 2):  # 5 per 10-minute bucket for an hour
        baseline.observe(minute * 60_000, 600_000, 0.5)
    busy = baseline.ewma
    baseline.observe(24 * 60 * 60_000, 600_000, 0.5)
    assert 4 < busy < 5
    assert baseline.ewma < 1e-6


def test_heat_from_replies_and_mentions_makes_it_severe() -> None:
    table = Table()
    table.run([negative("m1", 0, member="angry")])
    own = signal(chat("r0", 1, "对，就是这样", member="angry", reply_to="m1"), 0.5)
    replies = [signal(chat(f"r{i}", 1 + i * 0.5, "怎么回事？", member=f"u{i}", reply_to="m1"),
                      0.5) for i in range(1, 12)]
    mentions = [signal(chat(f"t{i}", 8 + i * 0.5, "@愤怒的人 具体说说", member=f"v{i}",
                            mentions=["angry"]), 0.5) for i in range(1, 9)]
    records = table.run([own, *replies, *mentions])
    assert records[-1].heat == 19 and records[-1].tier == "mild"
    records = table.run([signal(chat("t9", 13, "@愤怒的人 同问", member="v9",
                                     mentions=["angry"]), 0.5)])
    assert [(r.event, r.tier, r.heat) for r in records] == [("upgraded", "severe", 20)]
    assert records[0].negative_messages == 1


def test_replies_long_after_the_incident_add_no_heat() -> None:
    table = Table()
    table.run([negative("m1", 0, member="angry")])
    late = signal(chat("r1", 45, "上次那个解决了吗", member="u2", reply_to="m1"), 0.5)
    assert table.run([late]) == []
    assert table.only().heat == 0


def test_negatives_after_a_long_gap_or_a_resolution_open_a_new_incident() -> None:
    table = Table()
    table.run([negative("m1", 0)])
    table.run([negative("m2", 100)])  # within 120 min of m1: same incident
    records = table.run([negative("m3", 100 + 121)])
    assert [(r.event, r.incident_id) for r in records] == [("opened", "inc-c1-m3")]
    latest = table.latest()
    assert latest["inc-c1-m1"].negative_messages == 2
    assert table.state().current_id == "inc-c1-m3"


def test_after_a_resolution_the_next_negative_opens_a_new_incident() -> None:
    table = Table()
    table.run([negative("m1", 0)])
    state = table.state()
    resolve = IncidentCommand(command_id="r1", kind="resolve", incident_id="inc-c1-m1",
                              community_id="c1", actor="小美", issued_at=at(10))
    assert handle_command(state, resolve, P).status == "resolved"
    table.save("c1", state)
    records = table.run([negative("m2", 11, reply_to="m1")])
    assert [(r.event, r.incident_id, r.heat) for r in records] == [("opened", "inc-c1-m2", 0)]
    assert table.latest()["inc-c1-m1"].negative_messages == 1


def test_signals_of_two_communities_in_one_call_are_refused() -> None:
    with pytest.raises(ValueError):
        assess(CommunityState(), [negative("m1", 0), negative("m2", 1, community="c2")], P)


def test_tiers_never_go_down() -> None:
    table = Table()
    table.run([signal(chat("m1", 0, "我要找律师起诉你们"), UNSURE)])
    table.run([negative("m2", 5)])
    table.run([negative("m3", 50)])
    assert [r.tier for r in table.records] == ["severe", "severe", "severe"]
