"""Validation at the edge: raw Kafka bytes in, a typed event or a rejection out.

Never raises for bad input: a worker must survive any byte string, and the
reason must be precise enough for the producer's owners to fix their side.
Details never echo the payload (it may hold personal data).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from pydantic import ValidationError

from schemas.base import InputEvent, utc_now
from schemas.outputs import DeadLetterReason

E = TypeVar("E", bound=InputEvent)


@dataclass(frozen=True, slots=True)
class Rejection:
    """A record that cannot be processed, and why."""

    reason: DeadLetterReason
    detail: str


@dataclass(frozen=True, slots=True)
class ValidationPolicy:
    """Limits beyond the schema: sizes and plausible event times."""

    max_bytes: int = 64 * 1024
    earliest: datetime = datetime(2015, 1, 1, tzinfo=UTC)
    max_future_skew: timedelta = timedelta(hours=1)


DEFAULT_POLICY = ValidationPolicy()

_OVERSIZE_ERRORS = {"string_too_long", "too_long"}


def decode(
    raw: bytes | None,
    model: type[E],
    policy: ValidationPolicy = DEFAULT_POLICY,
    now: datetime | None = None,
) -> E | Rejection:
    """Parse and validate one Kafka value as ``model``."""
    if raw is None:
        return Rejection("invalid_json", "empty value (tombstone)")
    if len(raw) > policy.max_bytes:
        return Rejection("oversized", f"{len(raw)} bytes > limit {policy.max_bytes}")
    try:
        event = model.model_validate_json(raw)
    except ValidationError as exc:
        return _classify(raw, exc)
    now = now or utc_now()
    if not policy.earliest <= event.ts <= now + policy.max_future_skew:
        return Rejection(
            "timestamp_out_of_range",
            f"ts {event.ts.isoformat()} outside [{policy.earliest.date()}, now+"
            f"{int(policy.max_future_skew.total_seconds())}s]",
        )
    return event


def _classify(raw: bytes, exc: ValidationError) -> Rejection:
    errors = exc.errors(include_input=False, include_url=False)
    first = errors[0]
    kind = first["type"]
    if kind == "json_invalid":
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as decode_error:
            return Rejection("invalid_encoding", f"not UTF-8 at byte {decode_error.start}")
        return Rejection("invalid_json", str(first.get("msg", "invalid JSON"))[:200])
    if kind == "model_type":
        return Rejection("schema", "value is not a JSON object")
    loc = ".".join(str(part) for part in first["loc"]) or "<root>"
    if loc == "schema_version" and kind == "literal_error":
        return Rejection("unsupported_version", "schema_version not supported by this worker")
    if kind in _OVERSIZE_ERRORS:
        return Rejection("oversized", f"{loc}: {first['msg']}")
    more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
    return Rejection("schema", f"{loc}: {first['msg']}{more}"[:500])
