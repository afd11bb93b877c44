"""bench/sink_insert.py at a tiny size: the entry's shape, and every table got exactly the rows.

No timing is asserted (rates are machine-dependent; the bench reports a ratio).  The
bench runs in a subprocess, and the tables are counted afterwards by another one
(tests/deploy/chdb_runner.py), because chdb serves one data directory per process.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bench.results_file import RESULTS

REPO = Path(__file__).resolve().parents[2]
RUNNER = REPO / "tests" / "deploy" / "chdb_runner.py"
ROWS, BATCH, REPEATS = 300, 100, 2


def counts(path: Path, databases: list[str]) -> dict[str, list[int]]:
    """``count()`` and ``count() FINAL`` of each database's chat table, read independently."""
    job = {"path": str(path), "queries": {
        db: f"SELECT (SELECT count() FROM {db}.chat_messages), "
            f"(SELECT count() FROM {db}.chat_messages FINAL)" for db in databases}}
    done = subprocess.run([sys.executable, str(RUNNER)], input=json.dumps(job), text=True,
                          capture_output=True, timeout=120, check=True)
    results = json.loads(done.stdout)
    assert all("error" not in r for r in results.values()), results
    return {db: results[db]["rows"][0] for db in databases}


def test_tiny_run_reports_both_entries_and_writes_every_row_once(tmp_path: Path) -> None:
    before = RESULTS.read_bytes() if RESULTS.exists() else None
    output, store = tmp_path / "entries.json", tmp_path / "chdb"
    done = subprocess.run(
        [sys.executable, "-m", "bench.sink_insert", "--rows", str(ROWS), "--batch", str(BATCH),
         "--repeats", str(REPEATS), "--keep", str(store), "--output", str(output),
         "--no-merge"],
        cwd=REPO, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]

    sink_entry, store_entry = json.loads(output.read_text())
    assert (sink_entry["name"], store_entry["name"]) == ("sink_vs_raw_insert",
                                                         "store_path_vs_raw_insert")
    for entry in (sink_entry, store_entry):
        assert entry["unit"] == "rows/s"
        assert entry["baseline"] == "raw_clickhouse_connect_insert"
        assert entry["value"] > 0 and entry["baseline_value"] > 0
        assert entry["ratio"] == round(entry["value"] / entry["baseline_value"], 4)
    details = sink_entry["details"]
    assert (details["rows"], details["batch"], details["batches"]) == (ROWS, BATCH, 3)
    assert details["sink_prebuilt_rows_per_s"] == sink_entry["value"]
    assert details["sink_rows_per_s"] == store_entry["value"]
    assert details["raw_rows_per_s"] == sink_entry["baseline_value"]
    assert details["engine"].startswith("chdb ")
    assert {side: len(runs) for side, runs in details["runs_rows_per_s"].items()} == {
        "sink": REPEATS, "raw": REPEATS, "prebuilt": REPEATS}
    databases = details["databases"]
    assert sorted(databases) == sorted(f"{side}_{i}" for side in ("sink", "raw", "prebuilt")
                                       for i in range(1, REPEATS + 1))

    assert counts(store, databases) == {db: [ROWS, ROWS] for db in databases}
    assert (RESULTS.read_bytes() if RESULTS.exists() else None) == before  # --no-merge
