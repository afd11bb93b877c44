"""Sentiment throughput: ``SnowNLP(t).sentiments`` vs ``pipeline.compute.sentiment.score``.

One run, same texts for every contender: distinct chat-sized messages
recombined from SnowNLP's corpus (so per-text caching cannot be what wins).
Models are loaded before timing (a long-running worker loads them once) and
every cache is cleared before each timed pass. The SnowNLP-compatible
result is checked against the baseline before its speed is reported.

Run standalone: ``python -m bench.sentiment_bench [n_texts]``.
"""

from __future__ import annotations

import json
import sys
import time

from pipeline.compute.sentiment import DEFAULT_MODE, clear_caches, score, warm_up
from pipeline.devtools.sentiment_samples import chat_like

TOLERANCE = 1e-6


def entry(name: str, value: float, baseline_value: float) -> dict:
    return {
        "name": name,
        "value": round(value, 1),
        "unit": "texts/s",
        "baseline": "snownlp",
        "baseline_value": round(baseline_value, 1),
        "ratio": round(value / baseline_value, 4) if baseline_value else None,
    }


def _rate(n: int, seconds: float) -> float:
    return n / seconds if seconds > 0 else float("inf")


def run(n_texts: int = 3000) -> list[dict]:
    texts = chat_like(n_texts, seed=2024)
    from snownlp import SnowNLP

    warm_up("snownlp")
    warm_up(DEFAULT_MODE)

    started = time.perf_counter()
    reference = [SnowNLP(t).sentiments for t in texts]
    baseline = _rate(len(texts), time.perf_counter() - started)

    clear_caches()
    started = time.perf_counter()
    compatible = score(texts, mode="snownlp")
    compatible_rate = _rate(len(texts), time.perf_counter() - started)
    worst = max(abs(a - b) for a, b in zip(compatible, reference, strict=True))
    if worst >= TOLERANCE:
        raise AssertionError(f"snownlp mode differs from SnowNLP by {worst}")

    clear_caches()
    started = time.perf_counter()
    score(texts, mode=DEFAULT_MODE)
    default_rate = _rate(len(texts), time.perf_counter() - started)

    return [
        entry("sentiment_snownlp_compatible_vs_snownlp", compatible_rate, baseline),
        entry(f"sentiment_default_{DEFAULT_MODE}_vs_snownlp", default_rate, baseline),
    ]


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    for item in run(int(args[0]) if args else 3000):
        print(json.dumps(item))


if __name__ == "__main__":
    main()
