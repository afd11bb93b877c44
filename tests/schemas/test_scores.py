"""Scored-message chunks: per community, bounded, lossless round trip."""

from __future__ import annotations

from schemas.scores import CHUNK_ROWS, ScoredMessage, decode_chunk, encode_chunks


def scored(index: int, community: str) -> ScoredMessage:
    return ScoredMessage(
        message_id=f"m{index}", community_id=community, sender_role="member",
        ts_ms=1_763_900_000_000 + index, score=0.25, polarity="negative",
        complaint_terms=("退款",) if index % 2 else (), crisis_terms=(),
    )


def test_chunks_are_keyed_by_community_bounded_and_decode_to_the_same_rows():
    messages = [scored(i, "wx-a") for i in range(CHUNK_ROWS + 3)] + [scored(9999, "qq-b")]
    records = list(encode_chunks(messages))
    assert [key for key, _ in records] == [b"qq-b", b"wx-a", b"wx-a"]
    assert [len(decode_chunk(value)) for _, value in records] == [1, CHUNK_ROWS, 3]
    decoded = [m for _, value in records for m in decode_chunk(value)]
    by_id = lambda m: m.message_id  # noqa: E731
    assert sorted(decoded, key=by_id) == sorted(messages, key=by_id)


def test_chunks_follow_event_time_across_communities():
    """A batch spanning hours: each community's chunks interleave with the others' by
    ten-minute slice, so the shared partition stays in event-time order."""
    hour = 3_600_000
    messages = [scored(i, "wx-a") for i in range(0, 3 * hour, 300_000)]
    messages += [scored(i, "qq-b") for i in range(0, 3 * hour, 300_000)]
    stamps = [max(m.ts_ms for m in decode_chunk(value))
              for _, value in encode_chunks(messages)]
    newest = 0
    for stamp in stamps:
        assert stamp > newest - 600_000
        newest = max(newest, stamp)
    assert len(stamps) == 2 * 18

