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
    assert [key for key, _ in records] == [b"wx-a", b"wx-a", b"qq-b"]
    assert [len(decode_chunk(value)) for _, value in records] == [CHUNK_ROWS, 3, 1]
    assert [m for _, value in records for m in decode_chunk(value)] == messages

