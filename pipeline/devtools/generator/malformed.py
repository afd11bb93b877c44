"""Garbage on the input topics, one kind per dead-letter reason of ``schemas.decode``.

Each fault is modelled on a real producer bug (a truncated write, a GBK
encoder, an XML callback forwarded as is, a local time without offset, a
clock at epoch zero ...) and built from a real event, so everything except
the fault looks plausible.  The expected reason is what ``decode`` returns;
tests run ``decode`` on every malformed record to prove it.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass

from pipeline.devtools.generator.vocabulary import DISCUSSIONS, SHARES
from pipeline.devtools.generator.wire import WireEvent, dumps
from pipeline.topics import CHAT_MESSAGES, FUNNEL_EVENTS, MEMBER_EVENTS, TRANSACTIONS
from schemas.decode import DEFAULT_POLICY
from schemas.events import MAX_TEXT_CHARS
from schemas.outputs import DeadLetterReason


@dataclass(frozen=True, slots=True)
class Fault:
    name: str
    reason: DeadLetterReason


FAULTS: tuple[Fault, ...] = (
    Fault("truncated_json", "invalid_json"),
    Fault("not_json", "invalid_json"),
    Fault("empty_value", "invalid_json"),
    Fault("gbk_encoding", "invalid_encoding"),
    Fault("invalid_utf8_bytes", "invalid_encoding"),
    Fault("wrong_type", "schema"),
    Fault("missing_field", "schema"),
    Fault("unknown_enum", "schema"),
    Fault("not_an_object", "schema"),
    Fault("naive_timestamp", "schema"),
    Fault("unparseable_timestamp", "schema"),
    Fault("unsupported_version", "unsupported_version"),
    Fault("oversized_field", "oversized"),
    Fault("oversized_bytes", "oversized"),
    Fault("timestamp_too_old", "timestamp_out_of_range"),
    Fault("timestamp_far_future", "timestamp_out_of_range"),
)

_ID_FIELD = {CHAT_MESSAGES.name: "member_id", MEMBER_EVENTS.name: "member_id",
             TRANSACTIONS.name: "member_id", FUNNEL_EVENTS.name: "person_id"}
_REQUIRED = {
    CHAT_MESSAGES.name: ("message_id", "community_id", "member_id", "ts"),
    MEMBER_EVENTS.name: ("event_id", "member_id", "action", "ts"),
    TRANSACTIONS.name: ("order_id", "amount_fen", "status", "ts"),
    FUNNEL_EVENTS.name: ("event_id", "campaign_id", "person_id", "step", "ts"),
}
_BAD_ENUMS = {
    CHAT_MESSAGES.name: ("msg_type", ("voice", "video", "file", "location", "mini_program")),
    MEMBER_EVENTS.name: ("action", ("kicked", "mute", "rejoin")),
    TRANSACTIONS.name: ("status", ("pending", "closed", "partially_refunded")),
    FUNNEL_EVENTS.name: ("step", ("share", "purchase", "poster-click")),
}


def _replace(value: bytes, **changes: object) -> bytes:
    record = json.loads(value)
    record.update(changes)
    return dumps(record)


def _article(rng: random.Random, chars: int) -> str:
    """A long pasted article (复制粘贴的长文) of about ``chars`` characters."""
    parts: list[str] = []
    size = 0
    while size < chars:
        part = rng.choice(DISCUSSIONS + SHARES).replace("{", "").replace("}", "") + "。"
        parts.append(part)
        size += len(part)
    return "".join(parts)[:chars]


def _truncated_json(rng: random.Random, event: WireEvent) -> bytes:
    text = event.value.decode()
    return text[: rng.randint(10, len(text) - 2)].encode()


def _not_json(rng: random.Random, event: WireEvent) -> bytes:
    record = json.loads(event.value)
    style = rng.randrange(4)
    if style == 0:  # a WeChat callback forwarded as XML
        body = "".join(f"<{k}><![CDATA[{v}]]></{k}>" for k, v in record.items() if v is not None)
        return f"<xml>{body}</xml>".encode()
    if style == 1:  # form-encoded
        return "&".join(f"{k}={v}" for k, v in record.items() if v is not None).encode()
    if style == 2:  # Python repr instead of JSON
        return repr(record).encode()
    return b"ERROR: upstream timeout"


def _gbk(rng: random.Random, event: WireEvent) -> bytes:
    record = json.loads(event.value)
    if event.topic == CHAT_MESSAGES.name:
        if not any(ord(ch) > 127 for ch in record.get("text", "")):
            record["text"] = "图片加载失败，请重新发送"
    else:
        record["channel"] = rng.choice(("朋友圈海报", "公众号文章", "线下门店"))
    text = dumps(record).decode()
    encoded = text.encode("gbk", errors="replace")
    try:
        encoded.decode("utf-8")
    except UnicodeDecodeError:
        return encoded
    return text.encode("utf-16")


def _invalid_utf8(rng: random.Random, event: WireEvent) -> bytes:
    marker = b'_id":"'
    at = event.value.find(marker) + len(marker)
    return event.value[:at] + rng.choice((b"\xff", b"\xc3\x28", b"\x80", b"\xe4\xb8")) + \
        event.value[at:]


def _wrong_type(rng: random.Random, event: WireEvent) -> bytes:
    record = json.loads(event.value)
    field = _ID_FIELD[event.topic]
    if event.topic == TRANSACTIONS.name and rng.random() < 0.6:
        yuan = record["amount_fen"] / 100
        amount = yuan + 0.5 if yuan == int(yuan) else yuan
        return _replace(event.value, amount_fen=rng.choice((amount, f"{yuan:.2f}元")))
    if event.topic == CHAT_MESSAGES.name and rng.random() < 0.5:
        return _replace(event.value, mentions=rng.choice(("u0000001,u0000002", "所有人")))
    digits = "".join(ch for ch in record[field] if ch.isdigit()) or "1"
    return _replace(event.value, **{field: int(digits)})


def _missing_field(rng: random.Random, event: WireEvent) -> bytes:
    record = json.loads(event.value)
    del record[rng.choice(_REQUIRED[event.topic])]
    return dumps(record)


def _unknown_enum(rng: random.Random, event: WireEvent) -> bytes:
    field, values = _BAD_ENUMS[event.topic]
    return _replace(event.value, **{field: rng.choice(values)})


def _not_an_object(rng: random.Random, event: WireEvent) -> bytes:
    text = event.value.decode()
    if rng.random() < 0.5:
        return f"[{text}]".encode()  # a batch sent as one record
    return json.dumps(text, ensure_ascii=False).encode()  # double-encoded JSON


def _naive_timestamp(rng: random.Random, event: WireEvent) -> bytes:
    ts: str = json.loads(event.value)["ts"]
    naive = ts.removesuffix("Z").removesuffix("+08:00")
    return _replace(event.value, ts=naive if rng.random() < 0.7 else naive.replace("T", " "))


def _unparseable_timestamp(rng: random.Random, event: WireEvent) -> bytes:
    ts: str = json.loads(event.value)["ts"]
    date, time = ts[:10], ts[11:19]
    return _replace(event.value, ts=rng.choice((
        f"{date.replace('-', '/')} {time}", f"昨天 {time[:5]}", "", "0000-00-00 00:00:00",
    )))


def _unsupported_version(rng: random.Random, event: WireEvent) -> bytes:
    return _replace(event.value, schema_version=rng.choice((2, 2, 3, 0)))


def _oversized_field(rng: random.Random, event: WireEvent) -> bytes:
    if event.topic == CHAT_MESSAGES.name:
        return _replace(event.value, text=_article(rng, MAX_TEXT_CHARS + rng.randint(1, 1500)))
    if rng.random() < 0.5:
        return _replace(event.value, channel="utm_source=poster&utm_medium=qr&utm_content="
                        + "x" * rng.randint(100, 400))
    field = _ID_FIELD[event.topic]
    return _replace(event.value, **{field: "u" + "0" * rng.randint(128, 300)})


def _oversized_bytes(rng: random.Random, event: WireEvent) -> bytes:
    extra = DEFAULT_POLICY.max_bytes + rng.randint(1, 20_000)
    if event.topic == CHAT_MESSAGES.name:
        return _replace(event.value, text=_article(rng, extra // 3 + 1))
    return _replace(event.value, raw_payload="A" * extra)


def _too_old(rng: random.Random, event: WireEvent) -> bytes:
    return _replace(event.value, ts=rng.choice((
        "1970-01-01T00:00:00Z", "1970-01-01T08:00:00+08:00", "2000-01-01T00:00:00Z",
        "2014-12-31T23:59:59Z",
    )))


def _far_future(rng: random.Random, event: WireEvent) -> bytes:
    return _replace(event.value, ts=rng.choice((
        "2099-12-31T23:59:59Z", "2038-01-19T03:14:08Z", "9999-12-31T23:59:59+08:00",
    )))


_BUILDERS: dict[str, Callable[[random.Random, WireEvent], bytes]] = {
    "truncated_json": _truncated_json,
    "not_json": _not_json,
    "empty_value": lambda _rng, _event: b"",
    "gbk_encoding": _gbk,
    "invalid_utf8_bytes": _invalid_utf8,
    "wrong_type": _wrong_type,
    "missing_field": _missing_field,
    "unknown_enum": _unknown_enum,
    "not_an_object": _not_an_object,
    "naive_timestamp": _naive_timestamp,
    "unparseable_timestamp": _unparseable_timestamp,
    "unsupported_version": _unsupported_version,
    "oversized_field": _oversized_field,
    "oversized_bytes": _oversized_bytes,
    "timestamp_too_old": _too_old,
    "timestamp_far_future": _far_future,
}


def corrupt(rng: random.Random, fault: Fault, event: WireEvent) -> bytes:
    """The bytes of ``event`` broken in the way ``fault`` describes."""
    return _BUILDERS[fault.name](rng, event)
