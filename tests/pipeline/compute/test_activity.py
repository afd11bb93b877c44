"""Minute windows: exact counts under duplicates, disorder, lateness and replay."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from pipeline.compute.activity import (
    WINDOW_MS,
    PartitionClock,
    WindowState,
    apply_batch,
    split_window_key,
    window_key,
)
from schemas.events import ChatMessage

T0 = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)
LATENESS_MS = 5 * 60_000


def msg(i: int, seconds: float, community: str = "c1", member: str | None = None) -> ChatMessage:
    return ChatMessage(
        message_id=f"m{i}",
        community_id=community,
        member_id=member or f"u{i % 7}",
        ts=T0 + timedelta(seconds=seconds),
        text="你好",
    )


class Store:
    """A dict standing in for the Faust table, applying results like the agent does."""

    def __init__(self) -> None:
        self.windows: dict[str, dict] = {}
        self.clock = PartitionClock()
        self.published: dict[str, tuple[int, int, bool, int]] = {}

    def run(self, batch: list[ChatMessage]):
        result = apply_batch(
            self.clock, lambda k: WindowState.from_wire(self.windows.get(k)), batch, LATENESS_MS
        )
        for key, state in result.changed.items():
            self.windows[key] = state.to_wire()
        for key in result.finalized:
            self.windows.pop(key, None)
        for record in result.updates():
            key = record.key
            current = self.published.get(key)
            if current is None or record.revision > current[3]:
                self.published[key] = (
                    record.messages, record.speakers, record.is_final, record.revision
                )
        return result


def expected_counts(messages: list[ChatMessage]) -> dict[tuple[str, int], tuple[int, int]]:
    seen: dict[tuple[str, int], tuple[set[str], set[str]]] = {}
    for m in messages:
        start = int(m.ts.timestamp() * 1000) // WINDOW_MS * WINDOW_MS
        ids, speakers = seen.setdefault((m.community_id, start), (set(), set()))
        ids.add(m.message_id)
        if m.sender_role == "member":
            speakers.add(m.member_id)
    return {k: (len(a), len(b)) for k, (a, b) in seen.items()}


def published_counts(store: Store) -> dict[tuple[str, int], tuple[int, int]]:
    out = {}
    for key, (messages, speakers, _final, _rev) in store.published.items():
        community, start_iso = key.split("|")
        start = int(datetime.fromisoformat(start_iso).timestamp() * 1000)
        out[(community, start)] = (messages, speakers)
    return out


def test_counts_messages_and_distinct_speakers_per_minute() -> None:
    store = Store()
    store.run([msg(1, 1, member="a"), msg(2, 30, member="a"), msg(3, 61, member="b")])
    assert published_counts(store) == {
        ("c1", int(T0.timestamp() * 1000)): (2, 1),
        ("c1", int(T0.timestamp() * 1000) + WINDOW_MS): (1, 1),
    }


def test_duplicates_within_and_across_batches_are_counted_once() -> None:
    store = Store()
    first = store.run([msg(1, 1), msg(1, 1), msg(2, 2)])
    second = store.run([msg(2, 2), msg(3, 3)])
    assert (first.duplicates, second.duplicates) == (1, 1)
    assert published_counts(store)[("c1", int(T0.timestamp() * 1000))][0] == 3


def test_late_events_within_allowed_lateness_update_their_window() -> None:
    store = Store()
    store.run([msg(1, 10), msg(2, 200)])  # watermark at 3m20s
    result = store.run([msg(3, 20)])  # 3 minutes late, lateness allows 5
    assert result.too_late == 0
    assert published_counts(store)[("c1", int(T0.timestamp() * 1000))][0] == 2


def test_events_beyond_allowed_lateness_are_rejected_and_windows_finalized() -> None:
    store = Store()
    store.run([msg(1, 10)])
    result = store.run([msg(2, 10 + 7 * 60)])  # window 0 ends at 60s; +5min < 7m10s
    assert list(result.finalized) == [window_key("c1", int(T0.timestamp() * 1000))]
    late = store.run([msg(3, 30)])
    assert late.too_late == 1
    key = f"c1|{T0.isoformat()}"
    assert store.published[key] == (1, 1, True, 3)
    assert window_key("c1", int(T0.timestamp() * 1000)) not in store.windows


def test_redelivered_event_after_finalization_is_not_counted_twice() -> None:
    store = Store()
    store.run([msg(1, 10)])
    store.run([msg(2, 10 + 10 * 60)])
    result = store.run([msg(1, 10)])
    assert (result.too_late, result.duplicates) == (1, 0)
    assert store.published[f"c1|{T0.isoformat()}"][0] == 1


def test_shuffled_duplicated_stream_matches_distinct_counts_and_replay_is_idempotent() -> None:
    rng = random.Random(3)
    truth = [
        msg(i, rng.uniform(0, 3600), community=rng.choice("abc"), member=f"u{rng.randint(1, 20)}")
        for i in range(3000)
    ]
    truth.sort(key=lambda m: m.ts)
    delivered = list(truth)
    # bounded disorder (< lateness) and 5% duplicates
    for i in range(0, len(delivered) - 20, 7):
        j = i + rng.randint(1, 20)
        delivered[i], delivered[j] = delivered[j], delivered[i]
    for m in rng.sample(truth, 150):  # redelivered after the original, possibly much later
        delivered.insert(rng.randint(delivered.index(m) + 1, len(delivered)), m)
    store = Store()
    batches = [delivered[i : i + 97] for i in range(0, len(delivered), 97)]
    for batch in batches:
        store.run(batch)
    assert published_counts(store) == expected_counts(truth)
    # a crash after some batches were applied replays them: the result does not change
    for batch in batches[-5:]:
        store.run(batch)
    assert published_counts(store) == expected_counts(truth)


def test_window_key_survives_pipes_in_community_ids() -> None:
    assert split_window_key(window_key("a|b", 120_000)) == ("a|b", 120_000)


def test_latest_final_window_per_community() -> None:
    from pipeline.compute.activity import latest_final_by_community
    from schemas.outputs import CommunityMinuteActivity

    def window(community: str, minute: int, final: bool) -> CommunityMinuteActivity:
        start = datetime(2026, 1, 5, 8, minute, tzinfo=UTC)
        return CommunityMinuteActivity(
            community_id=community, window_start=start, window_end=start, messages=minute,
            speakers=1, is_final=final, revision=2 * minute + int(final))

    records = [window("a", 1, True), window("a", 3, True), window("a", 5, False),
               window("b", 2, False)]
    assert {c: r.messages for c, r in latest_final_by_community(records).items()} == {"a": 3}
