"""Batched second-order Viterbi that reproduces SnowNLP's ``tag()`` bit for bit.

SnowNLP (``snownlp/seg/y09_2047.py``) tracks states ``(previous tag, tag)``
and, per character, keeps for each new state the first best predecessor in
its dict order (strict ``>``). For a character the model never saw it does
no comparison at all: the *last* predecessor in dict order wins. Its final
pick is the first maximum in dict order, which is "current tag major".

Here all runs of a batch advance together, one character position per step.
Scores are a ``[runs, t1, t2]`` array; the start state ``(BOS, BOS)`` sits in
slot ``[0, 0]`` and unreachable slots hold ``-inf``, so the first two steps need
no special case except which predecessor an unseen character keeps. Sums are
formed in the same order as SnowNLP's (path score + transition), so ties and
near-ties resolve identically.
"""

from __future__ import annotations

import numpy as np

from pipeline.compute.sentiment.segtables import BOS_ID, SegTables

NEG_INF = float("-inf")


def transition_logprobs(tables: SegTables, ids: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """``log P(tag_i | tag_i-2, tag_i-1)`` as ``[N, t1, t2, t3]`` for every position.

    ``ids`` are character ids of runs laid end to end and ``offset`` each
    position's index inside its run (to insert the BOS context).
    """
    n = tables.n_ids
    c = ids
    b = np.where(offset >= 1, np.roll(ids, 1), BOS_ID)
    a = np.where(offset >= 2, np.roll(ids, 2), BOS_ID)
    bi_bc = tables.bi.locate(b * n + c)
    bos_pair = tables.bi.locate(np.array([BOS_ID * n + BOS_ID]))[0]
    bi_ab = np.where(offset >= 1, np.roll(bi_bc, 1), bos_pair)
    tri_rows = tables.tri.locate((a * n + b) * n + c)

    count_bc = tables.bi.dense(bi_bc).reshape(-1, 4, 4)
    count_ab = tables.bi.dense(bi_ab).reshape(-1, 4, 4, 1)
    count_abc = tables.tri.dense(tri_rows).reshape(-1, 4, 4, 4)
    uni_b = tables.uni[b].reshape(-1, 4, 1)

    uni = tables.l1 * (tables.uni[c] / tables.uni_total)
    bi = np.zeros_like(count_bc)
    np.divide(tables.l2 * count_bc, uni_b, out=bi, where=uni_b != 0)
    tri = np.zeros_like(count_abc)
    np.divide(tables.l3 * count_abc, count_ab, out=tri, where=count_ab != 0)
    total = (uni[:, None, None, :] + bi[:, None, :, :]) + tri
    with np.errstate(divide="ignore"):
        return np.log(total)


def tag_runs(
    logprobs: np.ndarray, unseen: np.ndarray, starts: np.ndarray, lengths: np.ndarray
) -> np.ndarray:
    """Best tag index (0..3 for b, m, e, s) per position, as SnowNLP picks it.

    Runs must be sorted by length, longest first, and laid out at ``starts``.
    """
    n_runs = len(lengths)
    tags = np.zeros(len(logprobs), dtype=np.int8)
    if n_runs == 0:
        return tags
    longest = int(lengths[0])
    ended_by = np.cumsum(np.bincount(lengths, minlength=longest + 1))
    active = n_runs - ended_by[:longest]  # runs still going at each step
    scores = np.full((n_runs, 4, 4), NEG_INF)
    scores[:, 0, 0] = 0.0
    final = np.empty((n_runs, 4, 4))
    back: list[np.ndarray] = []
    for step in range(longest):
        m = int(active[step])
        if m < len(scores):
            final[m : len(scores)] = scores[m:]
            scores = scores[:m]
        pos = starts[:m] + step
        cand = scores[:, :, :, None] + logprobs[pos]
        pick = cand.argmax(axis=1)
        best = cand.max(axis=1)
        lost = unseen[pos]
        if lost.any():
            keep = 3 if step >= 2 else 0
            best[lost] = scores[lost, keep, :, None]
            pick[lost] = keep
        scores = best
        back.append(pick)
    final[: len(scores)] = scores

    # First maximum in SnowNLP's dict order: current tag major, previous minor.
    flat = final.transpose(0, 2, 1).reshape(n_runs, 16).argmax(axis=1)
    t_cur = flat // 4
    t_prev = flat % 4
    ends = starts + lengths - 1
    tags[ends] = t_cur
    two = lengths >= 2
    tags[ends[two] - 1] = t_prev[two]
    # Walk back from each run's end: back[i][r, t_i-1, t_i] is t_i-2.
    rows = np.arange(n_runs)
    for step in range(longest - 1, 1, -1):
        m = int(active[step])  # exactly the runs whose walk has reached ``step``
        pred = back[step][rows[:m], t_prev[:m], t_cur[:m]]
        tags[starts[:m] + step - 2] = pred
        t_cur[:m] = t_prev[:m]
        t_prev[:m] = pred
    return tags
