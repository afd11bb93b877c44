"""The benchmark returns well-formed entries (speed itself is not asserted)."""

from __future__ import annotations

from bench.sentiment_bench import run


def test_bench_entries_are_well_formed() -> None:
    entries = run(n_texts=40)
    assert [e["name"] for e in entries] == [
        "sentiment_snownlp_compatible_vs_snownlp",
        "sentiment_default_improved_vs_snownlp",
    ]
    for e in entries:
        assert e["unit"] == "texts/s" and e["baseline"] == "snownlp"
        assert e["value"] > 0 and e["baseline_value"] > 0
        assert abs(e["ratio"] - e["value"] / e["baseline_value"]) < 0.01 * e["ratio"]
