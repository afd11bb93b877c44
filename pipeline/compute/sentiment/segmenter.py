"""Segment runs of Chinese characters exactly like ``snownlp.seg.single_seg``."""

from __future__ import annotations

import numpy as np

from pipeline.compute.sentiment.segtables import UNK_ID, SegTables
from pipeline.compute.sentiment.viterbi import tag_runs, transition_logprobs

# Bounds the [chars, 4, 4, 4] float64 temporaries to a few tens of MB.
CHUNK_CHARS = 16384

_B, _M, _E, _S = 0, 1, 2, 3


def segment_runs(tables: SegTables, runs: list[str]) -> list[tuple[str, ...]]:
    """Words of each run (a non-empty string of U+4E00..U+9FA5 characters)."""
    out: list[tuple[str, ...]] = [()] * len(runs)
    order = sorted(range(len(runs)), key=lambda i: -len(runs[i]))
    chunk: list[int] = []
    size = 0
    for i in order:
        if chunk and size + len(runs[i]) > CHUNK_CHARS:
            _segment_chunk(tables, runs, chunk, out)
            chunk, size = [], 0
        chunk.append(i)
        size += len(runs[i])
    if chunk:
        _segment_chunk(tables, runs, chunk, out)
    return out


def _segment_chunk(
    tables: SegTables, runs: list[str], chunk: list[int], out: list[tuple[str, ...]]
) -> None:
    """Segment ``runs[chunk]`` (longest first) in one batched Viterbi pass."""
    text = "".join(runs[i] for i in chunk)
    lengths = np.array([len(runs[i]) for i in chunk], dtype=np.int64)
    starts = np.cumsum(lengths) - lengths
    code_points = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
    ids = tables.ids(code_points)
    offset = np.arange(len(ids)) - np.repeat(starts, lengths)
    logprobs = transition_logprobs(tables, ids, offset)
    tags = tag_runs(logprobs, ids == UNK_ID, starts, lengths)

    # SnowNLP's Seg.seg: a word starts at b/s, or right after an e.
    prev = np.roll(tags, 1)
    begins = (offset == 0) | (tags == _B) | (tags == _S) | (prev == _E)
    cuts = np.flatnonzero(begins).tolist()
    cuts.append(len(text))
    words = [text[cuts[k] : cuts[k + 1]] for k in range(len(cuts) - 1)]
    first_word = np.searchsorted(cuts, starts).tolist()
    first_word.append(len(words))
    for j, i in enumerate(chunk):
        out[i] = tuple(words[first_word[j] : first_word[j + 1]])
