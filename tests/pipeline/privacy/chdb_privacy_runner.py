"""Run a privacy request's ClickHouse part in a throw-away chdb: JSON job on stdin.

    {"setup": [sql, ...], "member_id", "member_ref", "community", "token", "erase": bool}
    -> {"export": ..., "export_counts": ..., "erase_counts": ..., "remaining": ...,
        "tables": {table: [row, ...]}}

A separate process because chdb serves one data directory per process.
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections import Counter

import clickhouse_connect

from pipeline.egress.clickhouse.client import create_schema
from pipeline.privacy.clickhouse import ClickHouseStore, Subject
from pipeline.privacy.document import jsonable


def main() -> None:
    job = json.load(sys.stdin)
    out: dict = {}
    with tempfile.TemporaryDirectory(prefix="pulse-privacy-") as path:
        client = clickhouse_connect.get_client(interface="chdb", path=path)
        try:
            create_schema(client, "pulse", retention_days=20_000)  # fixed test dates age
            for statement in job["setup"]:
                client.command(statement)
            store = ClickHouseStore(client, "pulse")
            subject = Subject(job["member_id"], job["member_ref"], job.get("community"))
            out["export"], counts = store.export(subject)
            out["export_counts"] = dict(counts)
            if job.get("erase", True):
                messages = store.message_keys(subject)
                erased: Counter[str] = Counter()
                store.erase(subject, job["token"], messages, erased)
                out["erase_counts"] = dict(erased)
                out["remaining"] = dict(store.remaining(subject, messages))
            tables = [name for (name,) in client.query(
                "SELECT name FROM system.tables WHERE database = 'pulse' "
                "AND engine NOT LIKE '%View%' ORDER BY name").result_rows]
            out["tables"] = {}
            for table in tables:
                result = client.query(f"SELECT * FROM pulse.{table} ORDER BY tuple()")
                out["tables"][table] = [jsonable(dict(zip(result.column_names, row, strict=True)))
                                        for row in result.result_rows]
        finally:
            client.close()
    json.dump(jsonable(out), sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()
