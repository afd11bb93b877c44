"""Records under redelivery and replay: no duplicates, same ids and revisions."""

from __future__ import annotations

import random

from pipeline.compute.escalation import DEFAULT_POLICY as P
from pipeline.compute.escalation import CommunityState, assess
from tests.pipeline.compute.escalation.factory import (
    UNSURE,
    Table,
    chat,
    negative,
    signal,
    wire_copy,
)


def _crisis_batch() -> list:
    rng = random.Random(5)
    batch = [negative(f"m{i}", i * 0.7, member=f"u{rng.randint(1, 12)}") for i in range(20)]
    batch[9] = signal(chat("m9", 6.3, "大家一起维权", member="u3"), UNSURE)
    batch.append(signal(chat("r1", 9, "真的吗", member="u40", reply_to="m2"), 0.5))
    return batch


def test_twenty_negatives_in_one_batch_make_a_handful_of_records() -> None:
    records = Table().run(_crisis_batch())
    events = [r.event for r in records]
    assert events[0] == "opened"
    assert events.count("updated") <= 1
    assert len(records) <= 4
    assert [r.revision for r in records] == list(range(1, len(records) + 1))
    assert records[-1].negative_messages == 20


def test_negatives_joining_an_open_incident_give_one_update_per_batch() -> None:
    table = Table()
    table.run([negative("m0", 0)])
    batch = [negative(f"m{i}", 1 + i * 0.1, member="u1") for i in range(1, 21)]
    records = table.run(batch)
    assert [r.event for r in records] == ["upgraded", "updated"]  # repeat rule, then the rest
    assert records[-1].negative_messages == 21
    assert len(records[-1].excerpts) == 5
    assert records[-1].excerpts[-1].message_id == "m20"  # the latest is always shown


def test_replaying_a_batch_on_the_state_that_includes_it_produces_nothing() -> None:
    table = Table()
    batch = _crisis_batch()
    table.run(batch[:12])
    before = table.wire["c1"]
    table.run(batch[12:])
    after = table.wire["c1"]
    assert table.run(batch[12:]) == []
    assert table.run(batch) == []
    assert table.wire["c1"]["incidents"] == after["incidents"]
    assert before != after


def test_replaying_a_batch_on_the_state_before_it_reproduces_the_records() -> None:
    table = Table()
    batch = _crisis_batch()
    table.run(batch[:7])
    saved = wire_copy(table.wire["c1"])
    first = assess(CommunityState.from_wire(wire_copy(saved)), batch[7:], P)
    again = assess(CommunityState.from_wire(wire_copy(saved)), batch[7:], P)
    assert first and [r.model_dump_json() for r in first] == [r.model_dump_json() for r in again]


def test_duplicates_within_a_batch_and_shuffled_delivery_count_once() -> None:
    batch = _crisis_batch()
    rng = random.Random(9)
    delivered = batch + rng.sample(batch, 8)
    rng.shuffle(delivered)
    table = Table()
    for i in range(0, len(delivered), 6):
        table.run(delivered[i:i + 6])
    alert = table.only()
    assert alert.negative_messages == 20
    assert alert.heat == 1
    assert alert.tier == "severe"


def test_input_older_than_the_dedup_memory_is_ignored() -> None:
    table = Table()
    table.run([negative("m1", 0)])
    table.run([negative("m2", 7 * 60, member="u2")])
    assert table.run([negative("m0", 30, member="u3")]) == []  # 6.5 h behind the watermark
    assert "m1" not in table.wire["c1"]["seen"]


def test_state_survives_the_wire_unchanged() -> None:
    table = Table()
    table.run(_crisis_batch())
    state = table.state()
    assert wire_copy(state.to_wire()) == table.wire["c1"]
    assert CommunityState.from_wire(None).to_wire() == CommunityState().to_wire()


def test_a_reply_delivered_before_the_complaint_it_answers_still_adds_heat() -> None:
    table = Table()
    reply = signal(chat("r1", 2, "我也遇到了", member="u2", reply_to="m1"), 0.5)
    assert table.run([reply]) == []
    records = table.run([negative("m1", 1)])
    assert [(r.event, r.heat) for r in records] == [("opened", 1)]
