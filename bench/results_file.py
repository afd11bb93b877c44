"""``bench/results.json``: written whole by ``make bench``, partly by the runs of one family."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path(__file__).parent / "results.json"


def merge_into_results(entries: list[dict], prefix: str | tuple[str, ...], stamp: str,
                       path: Path = RESULTS) -> None:
    """Replace the entries named ``prefix*`` and record when under ``stamp``; keep the
    others, so ``make eval`` or one latency run does not undo the rest of a bench run."""
    results = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    kept = [e for e in results.get("benchmarks", []) if not e["name"].startswith(prefix)]
    results["benchmarks"] = kept + entries
    results[stamp] = datetime.now(UTC).isoformat(timespec="seconds")
    path.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
