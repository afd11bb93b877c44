"""Table specs against their DDL (in a real chdb engine) and their row functions."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from pipeline.egress.clickhouse.client import ddl_statements
from pipeline.egress.clickhouse.tables import ALL_TABLES, MESSAGE_SENTIMENT, RAW_TABLES
from schemas.events import ChatMessage
from schemas.scores import ScoredMessage

RUNNER = Path(__file__).parents[3] / "deploy" / "chdb_runner.py"


def table_columns() -> dict[str, dict[str, str]]:
    """Each table's columns and their default kind ('' when the insert must supply it)."""
    job = {
        "setup": ["CREATE DATABASE IF NOT EXISTS pulse", *ddl_statements("pulse")],
        "queries": {"columns": "SELECT table, name, default_kind FROM system.columns "
                               "WHERE database = 'pulse'"},
    }
    done = subprocess.run([sys.executable, str(RUNNER)], input=json.dumps(job), text=True,
                          capture_output=True, timeout=120, check=True)
    result = json.loads(done.stdout)["columns"]
    assert "error" not in result, result
    columns: dict[str, dict[str, str]] = {}
    for table, name, default_kind in result["rows"]:
        columns.setdefault(table, {})[name] = default_kind
    return columns


def test_every_spec_writes_exactly_the_columns_its_table_needs() -> None:
    ddl = table_columns()
    for spec in ALL_TABLES:
        assert spec.name in ddl, f"no DDL for {spec.name}"
        required = {name for name, kind in ddl[spec.name].items() if not kind}
        assert set(spec.columns) <= set(ddl[spec.name]), spec.name
        assert required <= set(spec.columns), f"{spec.name} misses {required - set(spec.columns)}"
        assert len(set(spec.columns)) == len(spec.columns), spec.name


def test_scored_message_row() -> None:
    now = datetime(2026, 11, 23, tzinfo=UTC)
    scored = ScoredMessage(message_id="m1", community_id="wx-a", sender_role="member",
                           ts_ms=1_763_900_000_001, score=0.25, polarity="negative",
                           complaint_terms=("退款",), crisis_terms=())
    assert MESSAGE_SENTIMENT.row(scored, now) == (
        "m1", "wx-a", "member", datetime.fromtimestamp(1_763_900_000.001, UTC), 0.25,
        "negative", ["退款"], [], now,
    )


class _Message:
    partition, offset = 3, 42


class _Event:
    message = _Message()


def test_raw_chat_rows_mask_personal_data_and_say_where_they_were_read() -> None:
    message = ChatMessage.model_validate({
        "schema_version": 1, "message_id": "m1", "community_id": "wx-a", "platform": "wechat",
        "member_id": "u1", "sender_role": "member", "msg_type": "text",
        "text": "我的手机 13812345678", "ts": "2026-01-05T08:00:00Z",
    })
    spec = RAW_TABLES[ChatMessage]
    now = datetime(2026, 1, 5, 8, 1, tzinfo=UTC)
    row = dict(zip(spec.columns, spec.row((_Event(), message), now), strict=True))
    assert "13812345678" not in row["text"]
    assert (row["kafka_partition"], row["kafka_offset"], row["ingested_at"]) == (3, 42, now)
