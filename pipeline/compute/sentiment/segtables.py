"""Array form of SnowNLP's character-based generative segmentation model.

SnowNLP keeps its uni/bi/trigram counts in dicts keyed by ``(char, tag)``
tuples and looks them up 64 times per character. Here the same counts become
numpy arrays indexed by character ids, so the transition log-probabilities of
every character of a batch are computed at once.

Ids: 0 is the sentence start (SnowNLP's ``('', 'BOS')``, its tag stored in
slot 0), 1 is a character the model never saw, 2.. are the model's Chinese
characters. Only characters SnowNLP actually segments (U+4E00..U+9FA5) matter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

ZH_FIRST = 0x4E00
ZH_LAST = 0x9FA5
BOS_ID = 0
UNK_ID = 1
TAGS = ("b", "m", "e", "s")
_TAG_INDEX = {"b": 0, "m": 1, "e": 2, "s": 3, "BOS": 0}


@dataclass(frozen=True)
class SparseCounts:
    """Counts grouped by an int64 key; each key owns a few ``(slot, count)`` pairs."""

    keys: np.ndarray  # sorted unique keys, int64
    ptr: np.ndarray  # entries of keys[i] are ptr[i]:ptr[i + 1]
    slot: np.ndarray  # int64 slot within the dense row
    count: np.ndarray  # float64
    width: int

    @classmethod
    def build(cls, keys: np.ndarray, slots: np.ndarray, counts: np.ndarray, width: int):
        order = np.lexsort((slots, keys))
        keys, slots, counts = keys[order], slots[order], counts[order]
        uniq, first = np.unique(keys, return_index=True)
        ptr = np.append(first, len(keys)).astype(np.int64)
        return cls(uniq, ptr, slots.astype(np.int64), counts.astype(np.float64), width)

    def locate(self, query: np.ndarray) -> np.ndarray:
        """Row index of each query key, or -1 where the key has no counts."""
        if len(self.keys) == 0:
            return np.full(len(query), -1, dtype=np.int64)
        idx = np.searchsorted(self.keys, query)
        np.minimum(idx, len(self.keys) - 1, out=idx)
        return np.where(self.keys[idx] == query, idx, -1)

    def dense(self, rows: np.ndarray) -> np.ndarray:
        """Dense ``[len(rows), width]`` counts for located rows (-1 gives zeros)."""
        out = np.zeros((len(rows), self.width), dtype=np.float64)
        hit = np.flatnonzero(rows >= 0)
        if len(hit) == 0:
            return out
        start = self.ptr[rows[hit]]
        n = self.ptr[rows[hit] + 1] - start
        owner = np.repeat(hit, n)
        first = np.repeat(np.cumsum(n) - n, n)
        entry = np.repeat(start, n) + (np.arange(len(owner)) - first)
        out[owner, self.slot[entry]] = self.count[entry]
        return out


@dataclass(frozen=True)
class SegTables:
    """Everything the batched Viterbi needs, derived once from the raw model."""

    l1: float
    l2: float
    l3: float
    uni_total: float
    n_ids: int
    char_id: np.ndarray  # int64 id per code point ZH_FIRST..ZH_LAST
    uni: np.ndarray  # [n_ids, 4] float64 counts
    bi: SparseCounts  # key a*n+b, slot t_a*4+t_b
    tri: SparseCounts  # key (a*n+b)*n+c, slot t_a*16+t_b*4+t_c

    def ids(self, code_points: np.ndarray) -> np.ndarray:
        return self.char_id[code_points - ZH_FIRST]


def _is_segmented_char(ch: str) -> bool:
    return ch == "" or (len(ch) == 1 and ZH_FIRST <= ord(ch) <= ZH_LAST)


def build_tables(raw: dict[str, Any]) -> SegTables:
    """Convert SnowNLP's ``CharacterBasedGenerativeModel`` state into arrays."""
    if tuple(raw["status"]) != TAGS:
        raise ValueError(f"unexpected segmenter tags: {raw['status']!r}")
    uni_d = raw["uni"]["d"]
    chars = sorted({c for c, _ in uni_d if c != "" and _is_segmented_char(c)})
    n_ids = len(chars) + 2
    char_id = np.full(ZH_LAST - ZH_FIRST + 1, UNK_ID, dtype=np.int64)
    char_id[[ord(c) - ZH_FIRST for c in chars]] = np.arange(2, n_ids)
    # A (char, tag) state as one int: id * 4 + tag slot.
    state = {("", "BOS"): BOS_ID * 4}
    for i, c in enumerate(chars):
        for t in TAGS:
            state[(c, t)] = (i + 2) * 4 + _TAG_INDEX[t]

    uni = np.zeros((n_ids, 4), dtype=np.float64)
    for key, v in uni_d.items():
        if key in state:
            uni[state[key] >> 2, state[key] & 3] = v

    return SegTables(
        l1=float(raw["l1"]),
        l2=float(raw["l2"]),
        l3=float(raw["l3"]),
        uni_total=float(raw["uni"]["total"]),
        n_ids=n_ids,
        char_id=char_id,
        uni=uni,
        bi=_grams(raw["bi"]["d"], 2, state, n_ids),
        tri=_grams(raw["tri"]["d"], 3, state, n_ids),
    )


def _grams(d: dict, order: int, state: dict, n_ids: int) -> SparseCounts:
    """Pack n-gram counts keyed by ``(char, tag)`` tuples; drop unsegmented chars."""
    states = np.array([state.get(s, -1) for gram in d for s in gram], dtype=np.int64)
    states = states.reshape(-1, order)
    counts = np.fromiter(d.values(), dtype=np.float64, count=len(d))
    ok = (states >= 0).all(axis=1)
    states, counts = states[ok], counts[ok]
    keys = np.zeros(len(states), dtype=np.int64)
    slots = np.zeros(len(states), dtype=np.int64)
    for k in range(order):
        keys = keys * n_ids + (states[:, k] >> 2)
        slots = slots * 4 + (states[:, k] & 3)
    return SparseCounts.build(keys, slots, counts, 4**order)
