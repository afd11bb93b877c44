"""Fuzzing the edge: no input of any shape raises, and each bad one gets its precise reason."""

from __future__ import annotations

import json
import random
from collections import Counter
from datetime import UTC, datetime
from typing import get_args

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.decode import Rejection, decode
from schemas.outputs import DeadLetterReason
from tests.faults.fuzz_inputs import BASES, MODELS, SHAPES, fuzz, valid_base

NOW = datetime(2026, 11, 27, tzinfo=UTC)
REASONS = set(get_args(DeadLetterReason))


def test_the_bases_are_valid_so_each_shape_breaks_one_thing() -> None:
    rng = random.Random(0)
    for topic, model in MODELS.items():
        assert isinstance(decode(json.dumps(valid_base(topic, rng)).encode(), model, now=NOW),
                          model)


def test_twenty_thousand_fuzzed_records_get_exactly_their_reason() -> None:
    found = fuzz(20_000, seed=7)
    covered = Counter((f.topic, f.shape) for f in found)
    assert len(covered) == len(MODELS) * len(SHAPES)  # every shape on every topic
    wrong = []
    for record in found:
        result = decode(record.value, MODELS[record.topic], now=NOW)
        if not isinstance(result, Rejection) or result.reason != record.reason:
            wrong.append((record.topic, record.shape, record.reason, result))
        elif record.value and b"fz-" in record.value:
            ident = record.value.split(b"fz-", 1)[1][:6].decode("utf-8", "ignore")
            assert "fz-" + ident not in result.detail  # never echoes the payload
    assert wrong == []
    assert {f.reason for f in found} == REASONS - {"unknown_step"}  # that one: the registry


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(), inner, max_size=5),
    max_leaves=30,
)


@settings(max_examples=3000, deadline=None)
@given(raw=st.binary(max_size=2000), topic=st.sampled_from(sorted(MODELS)))
def test_arbitrary_bytes_never_raise(raw: bytes, topic: str) -> None:
    result = decode(raw, MODELS[topic], now=NOW)
    assert isinstance(result, Rejection) and result.reason in REASONS and result.detail


@settings(max_examples=3000, deadline=None)
@given(topic=st.sampled_from(sorted(MODELS)),
       changes=st.dictionaries(st.sampled_from(["ts", "community_id", "member_id", "text",
                                                "amount_fen", "status", "member_ids", "step",
                                                "schema_version", "mentions", "action"]),
                               JSON, min_size=1, max_size=3))
def test_valid_events_with_arbitrary_fields_decode_or_are_rejected(topic: str,
                                                                   changes: dict) -> None:
    """Valid events with fields replaced by arbitrary JSON: a valid event or a rejection
    with a known reason, never an exception."""
    raw = json.dumps({**BASES[topic], **changes}, ensure_ascii=False).encode()
    result = decode(raw, MODELS[topic], now=NOW)
    assert isinstance(result, MODELS[topic]) or (
        isinstance(result, Rejection) and result.reason in REASONS)
