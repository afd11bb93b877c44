"""Views over the tables, run in a real chdb engine on hand-made rows."""

from __future__ import annotations

import json
import subprocess
import sys

from pipeline.egress.clickhouse.client import ddl_statements
from tests.pipeline.egress.clickhouse.test_tables import RUNNER


def run(setup: list[str], queries: dict[str, str]) -> dict:
    job = {"setup": ["CREATE DATABASE IF NOT EXISTS pulse", *ddl_statements("pulse"), *setup],
           "queries": queries}
    done = subprocess.run([sys.executable, str(RUNNER)], input=json.dumps(job), text=True,
                          capture_output=True, timeout=120, check=True)
    results = json.loads(done.stdout)
    for result in results.values():
        assert "error" not in result, result
    return results


def join(event: str, member: str, inviter: str | None, minute: int, channel: str = "qr-a",
         community: str = "c1") -> str:
    inviter_sql = "NULL" if inviter is None else f"'{inviter}'"
    return (f"('{event}', '{community}', 'wechat', '{member}', 'join', {inviter_sql}, NULL, "
            f"'{channel}', toDateTime64('2026-11-02 10:{minute:02d}:00', 3, 'UTC'), 0, "
            f"{minute}, now64(3))")


def test_invitation_depth_follows_the_chain_per_community() -> None:
    rows = [
        join("e1", "a", None, 1),            # organic: not in the view
        join("e2", "b", "a", 2),             # depth 1 (a was not invited)
        join("e3", "c", "b", 3),             # 2
        join("e4", "d", "c", 4, "qr-b"),     # 3
        join("e5", "e", "d", 5), join("e6", "f", "e", 6), join("e7", "g", "f", 7),  # 4, 5, 5+
        join("e8", "c", "z", 8),             # a later re-join of c: the first inviter counts
        join("e9", "b", "a", 9, community="c2"),  # another community: its own tree
        join("e2", "b", "a", 2),             # a duplicate row of e2 (folded by FINAL)
    ]
    insert = ("INSERT INTO pulse.member_events (event_id, community_id, platform, member_id, "
              "action, inviter_id, channel, qr_code_id, ts, kafka_partition, kafka_offset, "
              "ingested_at) VALUES " + ", ".join(rows))
    result = run([insert], {"depth": "SELECT community_id, member_id, channel, depth "
                                     "FROM pulse.invitation_depth ORDER BY community_id, "
                                     "member_id"})
    assert result["depth"]["rows"] == [
        ["c1", "b", "qr-a", 1], ["c1", "c", "qr-a", 2], ["c1", "d", "qr-b", 3],
        ["c1", "e", "qr-a", 4], ["c1", "f", "qr-a", 5], ["c1", "g", "qr-a", 5],
        ["c2", "b", "qr-a", 1],
    ]
