"""The export document: plain JSON values, written to a file only its owner can read."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import orjson


def jsonable(value: Any) -> Any:
    """``value`` as JSON types: ClickHouse returns naive UTC datetimes, tuples, maps."""
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, Decimal | UUID):
        return str(value)
    if isinstance(value, float) and value != value:  # NaN is not JSON
        return None
    return value


def decode_value(raw: bytes | None) -> Any:
    """A Kafka record value as JSON if it is JSON, else its text (null for a tombstone)."""
    if raw is None:
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw.decode("utf-8", errors="replace")


def write_document(document: dict[str, Any], path: Path) -> Path:
    """Write ``document`` to ``path`` with mode 0600 (it holds personal data)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)  # also when the file existed
    with os.fdopen(descriptor, "wb") as out:
        out.write(orjson.dumps(jsonable(document), option=orjson.OPT_INDENT_2))
    return path
