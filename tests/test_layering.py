"""The tree's promises: pure compute has no clock, and the import contracts hold."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CLOCK_CALLS = {"now", "utcnow", "today", "time", "monotonic", "perf_counter", "utc_now"}
"""Calls that read a clock (``datetime.now``, ``time.time``, ``schemas.base.utc_now``...)."""


def clock_reads(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Call):
            name = getattr(node.func, "attr", None) or getattr(node.func, "id", None)
            if name in CLOCK_CALLS:
                found.append(f"{path.relative_to(REPO)}:{node.lineno} {name}()")
    return found


def test_pure_compute_reads_no_clock() -> None:
    modules = sorted((REPO / "pipeline" / "compute").rglob("*.py"))
    assert len(modules) > 20
    assert [hit for path in modules for hit in clock_reads(path)] == []


def test_the_clock_check_sees_a_clock() -> None:
    hits = clock_reads(REPO / "pipeline" / "ingress" / "batches.py")
    assert hits and all("perf_counter()" in hit for hit in hits)


def test_import_contracts_hold() -> None:
    """``lint-imports`` with the contracts in pyproject.toml (compute, devtools, layers)."""
    executable = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    if executable is None:
        pytest.fail("import-linter is not installed (make setup installs the test extra)")
    done = subprocess.run([executable], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout
