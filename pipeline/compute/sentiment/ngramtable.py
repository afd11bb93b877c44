"""Vectorised n-gram weight lookup for a whole batch of texts.

A Python dict of ~180k n-gram strings costs a cache miss per lookup. Here
each n-gram becomes one int64 (21 bits per code point, so up to trigrams)
and its weight is found by binary search in a compact sorted array, for all
n-grams of all texts of a batch at once. Binary presence (each distinct
n-gram counts once per text) and the number of distinct n-grams per text
are computed the same way, giving exactly the model's definition.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipeline.compute.sentiment.features import BOS, EOS, SCOPE_MARK

BITS = 21  # every code point fits (max U+10FFFF < 2**21)


@dataclass(frozen=True)
class NgramTable:
    """Sorted keys and weights, one group per (n, inside negation scope)."""

    max_n: int
    keys: dict[tuple[int, bool], np.ndarray]
    weights: dict[tuple[int, bool], np.ndarray]

    @classmethod
    def build(cls, grams: dict[str, float], max_n: int) -> NgramTable:
        if max_n * BITS > 63:
            raise ValueError("n-grams longer than 3 do not fit an int64 key")
        names = list(grams)
        weight = np.fromiter(grams.values(), dtype=np.float64, count=len(names))
        marked = np.fromiter((n[:1] == SCOPE_MARK for n in names), dtype=bool, count=len(names))
        bare = [n.removeprefix(SCOPE_MARK) for n in names]
        lengths = np.fromiter(map(len, bare), dtype=np.int64, count=len(bare))
        if len(bare) and not (lengths.min() >= 1 and lengths.max() <= max_n):
            raise ValueError(f"n-gram features must have 1..{max_n} characters")
        cps = np.frombuffer("".join(bare).encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
        starts = np.cumsum(lengths) - lengths
        key = np.zeros(len(bare), dtype=np.int64)
        for k in range(max_n):
            longer = lengths > k
            key[longer] = (key[longer] << BITS) | cps[starts[longer] + k]
        keys, weights = {}, {}
        for n in range(1, max_n + 1):
            for flag in (False, True):
                chosen = (lengths == n) & (marked == flag)
                order = np.argsort(key[chosen], kind="stable")
                keys[(n, flag)] = key[chosen][order]
                weights[(n, flag)] = weight[chosen][order]
        return cls(max_n, keys, weights)

    def sums(
        self, norms: list[str], scopes: list[list[bool] | None]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per text: summed weights of its distinct n-grams, and how many there are."""
        n_texts = len(norms)
        padded = "".join(BOS + t + EOS for t in norms)
        cps = np.frombuffer(padded.encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
        lengths = np.fromiter((len(t) + 2 for t in norms), dtype=np.int64, count=n_texts)
        owner = np.repeat(np.arange(n_texts), lengths)
        scoped = np.zeros(len(cps), dtype=bool)
        starts = np.cumsum(lengths) - lengths
        for start, scope in zip(starts.tolist(), scopes, strict=True):
            if scope is not None:
                scoped[start + 1 : start + 1 + len(scope)] = scope
        totals = np.zeros(n_texts)
        counts = np.zeros(n_texts)
        size = len(cps)
        key = np.zeros(size, dtype=np.int64)
        inside = np.ones(size, dtype=bool)
        for n in range(1, self.max_n + 1):
            m = size - n + 1
            if m <= 0:
                break
            key = (key[:m] << BITS) | cps[n - 1 :]
            inside = inside[:m] & scoped[n - 1 :]
            same_text = owner[:m] == owner[n - 1 :]
            for marked in (False, True):
                chosen = same_text & (inside if marked else ~inside)
                self._add(n, marked, key[chosen], owner[:m][chosen], totals, counts)
        return totals, counts

    def _add(
        self,
        n: int,
        marked: bool,
        keys: np.ndarray,
        owners: np.ndarray,
        totals: np.ndarray,
        counts: np.ndarray,
    ) -> None:
        if len(keys) == 0:
            return
        order = np.lexsort((keys, owners))
        keys, owners = keys[order], owners[order]
        first = np.ones(len(keys), dtype=bool)
        first[1:] = (keys[1:] != keys[:-1]) | (owners[1:] != owners[:-1])
        keys, owners = keys[first], owners[first]
        counts += np.bincount(owners, minlength=len(counts))
        table = self.keys[(n, marked)]
        if len(table) == 0:
            return
        idx = np.searchsorted(table, keys)
        np.minimum(idx, len(table) - 1, out=idx)
        hit = table[idx] == keys
        totals += np.bincount(
            owners[hit], weights=self.weights[(n, marked)][idx[hit]], minlength=len(totals)
        )
