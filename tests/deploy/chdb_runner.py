"""Run SQL in a throw-away chdb session: JSON job on stdin, JSON results on stdout.

    {"setup": [sql, ...], "queries": {name: sql}} -> {name: {"columns", "rows"} | {"error"}}

With ``"path"`` the session opens that data directory (a stopped worker's chdb) instead.

A separate process because chdb serves one data directory per process: the
tests must not collide with another chdb session of the same pytest run.
"""

from __future__ import annotations

import json
import sys
import tempfile
from typing import Any

import clickhouse_connect


def main() -> None:
    job = json.load(sys.stdin)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="pulse-panels-") as scratch:
        path = job.get("path") or scratch
        client = clickhouse_connect.get_client(interface="chdb", path=path)
        try:
            for statement in job.get("setup", []):
                client.command(statement)
            for name, query in job["queries"].items():
                try:
                    result = client.query(query)
                    results[name] = {"columns": list(result.column_names),
                                     "rows": [list(row) for row in result.result_rows]}
                except Exception as exc:  # reported per query to the test
                    results[name] = {"error": f"{type(exc).__name__}: {exc}"}
        finally:
            client.close()
    json.dump(results, sys.stdout, default=str, ensure_ascii=False)


if __name__ == "__main__":
    main()
