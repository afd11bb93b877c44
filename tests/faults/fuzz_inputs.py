"""An own fuzzer for the input topics: seeded, every record bad for a known reason.

Shapes (one per draw, on any input topic): random bytes, truncated and non-JSON
text, invalid UTF-8 inside an otherwise valid event, JSON that is not an object,
deeply nested arrays and objects (as the whole value or as a field), huge values
(past the byte limit), wrong types, missing required fields, unknown enum values,
negative and absurd amounts, unsupported schema versions, ancient and future times,
times without an offset, empty and overlong ids.  Each record carries the
dead-letter reason the edge must give it; the unit test proves ``decode`` gives
exactly that, the integration test that the worker does.  Valid events are never
produced here: a record that happened to be valid would change the counts the
tests compare.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass

from pipeline.egress.contracts import TOPIC_RECORDS
from pipeline.topics import (
    CHAT_MESSAGES,
    FUNNEL_EVENTS,
    INPUT_TOPICS,
    MEMBER_EVENTS,
    MEMBERSHIP_SNAPSHOTS,
    TRANSACTIONS,
)

MODELS = {spec.name: TOPIC_RECORDS[spec.name] for spec in INPUT_TOPICS}
TS = "2026-11-02T10:00:00+08:00"
BASES: dict[str, dict] = {
    CHAT_MESSAGES.name: {"message_id": "fz-m", "community_id": "fz-c", "member_id": "fz-u",
                         "sender_role": "member", "msg_type": "text", "text": "今天几点开始",
                         "ts": TS},
    MEMBER_EVENTS.name: {"event_id": "fz-e", "community_id": "fz-c", "member_id": "fz-u",
                         "action": "join", "ts": TS},
    MEMBERSHIP_SNAPSHOTS.name: {"snapshot_id": "fz-s", "community_id": "fz-c",
                                "member_ids": ["fz-u"], "ts": TS},
    TRANSACTIONS.name: {"order_id": "fz-o", "member_id": "fz-u", "amount_fen": 990,
                        "status": "paid", "ts": TS},
    FUNNEL_EVENTS.name: {"event_id": "fz-f", "campaign_id": "fz-camp", "person_id": "fz-u",
                         "step": "signup", "ts": TS},
}
ENUMS = {CHAT_MESSAGES.name: "msg_type", MEMBER_EVENTS.name: "action",
         TRANSACTIONS.name: "status", MEMBERSHIP_SNAPSHOTS.name: "platform"}
REQUIRED = {topic: [f for f, info in model.model_fields.items() if info.is_required()]
            for topic, model in MODELS.items()}
ID_FIELD = {topic: next(f for f in fields if f != "ts") for topic, fields in REQUIRED.items()}
MAX_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class Fuzzed:
    topic: str
    key: bytes | None
    value: bytes | None
    reason: str
    shape: str


def _dumps(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode()


def _random_bytes(rng: random.Random) -> tuple[bytes, str]:
    """Random bytes and the reason they must get: not UTF-8, not JSON, or not an event."""
    raw = rng.randbytes(rng.randrange(1, 300))
    try:
        json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        return raw, "invalid_encoding"
    except ValueError:
        return raw, "invalid_json"
    return raw, "schema"


def _nested(depth: int, rng: random.Random) -> str:
    """JSON text nested ``depth`` levels (arrays and objects mixed), built as text: a
    Python structure that deep would not even serialise."""
    opens = [rng.choice(("[", '{"n":')) for _ in range(depth)]
    closes = ["]" if o == "[" else "}" for o in reversed(opens)]
    return "".join(opens) + '"底"' + "".join(closes)


def valid_base(topic: str, rng: random.Random) -> dict:
    """A valid event of ``topic`` with a fresh id: each shape breaks it one way."""
    return {**BASES[topic], ID_FIELD[topic]: f"fz-{rng.randrange(10**9)}"}


def draw(rng: random.Random, topic: str) -> tuple[bytes | None, str, str]:
    """One bad value for ``topic``: (bytes, expected reason, shape)."""
    base = valid_base(topic, rng)
    shape = rng.choice(SHAPES)
    if shape == "tombstone":
        return None, "invalid_json", shape
    if shape == "random_bytes":
        return (*_random_bytes(rng), shape)
    if shape == "truncated":
        raw = _dumps(base)[:rng.randrange(1, len(_dumps(base)) - 1)]
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:  # cut inside a character
            return raw, "invalid_encoding", shape
        return raw, "invalid_json", shape
    if shape == "not_json":
        text = rng.choice(["<xml><a>1</a></xml>", "id=1&ts=now", "NaN-ish", "{'a': 1}",
                           "SELECT * FROM users; --", "<script>alert(1)</script>"])
        return text.encode(), "invalid_json", shape
    if shape == "invalid_utf8":
        raw = _dumps(base)
        cut = raw.index(b'"', raw.index(b":") + 1) + 1  # inside the first string value
        return raw[:cut] + rng.choice([b"\xff", b"\xc3\x28", b"\xed\xa0\x80"]) + raw[cut:], \
            "invalid_encoding", shape
    if shape == "not_an_object":
        return _dumps(rng.choice([[base], "event", 42, None, True])), "schema", shape
    if shape == "deep_nesting":
        depth = rng.randrange(300, 5000)
        text = _nested(depth, rng)
        if rng.random() < 0.5:
            text = _dumps(base).decode()[:-1] + ', "extra": ' + text + "}"
        raw = text.encode()
        return raw, "oversized" if len(raw) > MAX_BYTES else "invalid_json", shape
    if shape == "huge_value":
        size = MAX_BYTES + rng.randrange(1, 200_000)
        return _dumps({**base, "padding": "好" * (size // 3 + 1)}), "oversized", shape
    if shape == "wrong_type":
        field = rng.choice(REQUIRED[topic])
        base[field] = rng.choice([[1, 2], {"a": 1}, None])  # no scalar coerces to these
        return _dumps(base), "schema", shape
    if shape == "missing_field":
        del base[rng.choice(REQUIRED[topic])]
        return _dumps(base), "schema", shape
    if shape == "unknown_enum":
        if topic == FUNNEL_EVENTS.name:  # its step is an id checked against the registry
            base["step"] = rng.choice([["signup"], {"step": "signup"}, ""])
        else:
            base[ENUMS[topic]] = rng.choice(["voice", "kicked", "pending", "", "PAID", "成员"])
        return _dumps(base), "schema", shape
    if shape == "bad_amount":
        if topic != TRANSACTIONS.name:
            base["schema_version"] = rng.choice([2, 0, 99])
            return _dumps(base), "unsupported_version", shape
        base["amount_fen"] = rng.choice([-1, -990, 10**13, 1.5, "990元", None])
        return _dumps(base), "schema", shape
    if shape == "ancient_time":
        base["ts"] = rng.choice(["1970-01-01T00:00:00Z", "2001-09-09T01:46:40+00:00",
                                 "0001-01-01T00:00:00Z", "2014-12-31T23:59:59+08:00"])
        return _dumps(base), "timestamp_out_of_range", shape
    if shape == "future_time":
        base["ts"] = rng.choice(["2099-01-01T00:00:00Z", "9999-12-31T23:59:59Z",
                                 "2038-01-19T03:14:08+00:00"])
        return _dumps(base), "timestamp_out_of_range", shape
    if shape == "naive_time":
        base["ts"] = rng.choice(["2026-11-02T10:00:00", "2026-11-02 10:00", "昨天", "", 1e30])
        return _dumps(base), "schema", shape
    if shape == "bad_id":
        field = ID_FIELD[topic]
        if rng.random() < 0.5:
            base[field] = ""
            return _dumps(base), "schema", shape
        base[field] = rng.choice(["x", "好", "\x00"]) * rng.randrange(129, 2000)
        return _dumps(base), "oversized", shape
    raise AssertionError(shape)


SHAPES = ("tombstone", "random_bytes", "truncated", "not_json", "invalid_utf8",
          "not_an_object", "deep_nesting", "huge_value", "wrong_type", "missing_field",
          "unknown_enum", "bad_amount", "ancient_time", "future_time", "naive_time",
          "bad_id")


def fuzz(count: int, seed: int) -> list[Fuzzed]:
    """``count`` bad records spread over every input topic, with keys of every kind."""
    rng = random.Random(seed)
    topics = list(MODELS)
    out = []
    for _ in range(count):
        topic = rng.choice(topics)
        value, reason, shape = draw(rng, topic)
        key = rng.choice([None, b"fz-c", rng.randbytes(8), "社群".encode()])
        if value is None and key is None:  # a tombstone has a key
            key = b"fz-c"
        out.append(Fuzzed(topic, key, value, reason, shape))
    return out
