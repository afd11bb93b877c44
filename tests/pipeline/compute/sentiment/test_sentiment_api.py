"""Public API contract and cheap import."""

from __future__ import annotations

import subprocess
import sys

import pytest

from pipeline.compute.sentiment import DEFAULT_MODE, MODES, clear_caches, score


def test_import_loads_no_model_and_no_numpy() -> None:
    code = (
        "import sys, pipeline.compute.sentiment as s;"
        "print(sorted(m for m in ('numpy', 'snownlp', 'pipeline.compute.sentiment.compat') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_contract() -> None:
    assert DEFAULT_MODE in MODES and "snownlp" in MODES
    assert score([]) == []
    with pytest.raises(TypeError):
        score("不是列表")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        score(["好"], mode="no-such-mode")
    with pytest.raises(ValueError):
        score([], mode="no-such-mode")


@pytest.mark.parametrize("mode", ["snownlp", "improved"])
def test_order_and_range(mode: str) -> None:
    texts = ["太好了，谢谢！", "垃圾，退款！", "收到", "太好了，谢谢！"]
    values = score(texts, mode=mode)
    assert len(values) == 4 and values[0] == values[3]
    assert values[1] < values[0]
    assert all(0.0 <= v <= 1.0 for v in values)
    clear_caches()
    assert score(texts, mode=mode) == values
