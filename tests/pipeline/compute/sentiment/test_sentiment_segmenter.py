"""The batched Viterbi segmenter against ``snownlp.seg.single_seg``."""

from __future__ import annotations

import random

import pytest

from pipeline.compute.sentiment import segmenter
from pipeline.compute.sentiment.compat import RE_ZH
from pipeline.compute.sentiment.segmenter import segment_runs
from pipeline.devtools.sentiment_samples import RARE_CJK, chat_like, long_texts


@pytest.fixture(scope="module")
def single_seg():
    from snownlp import seg

    return seg.single_seg


def sample_runs() -> list[str]:
    rng = random.Random(5)
    runs = sorted({r for t in chat_like(400, seed=6) for r in RE_ZH.findall(t)})
    common = "的是不了人我在有他这为之大来以个中上们到说国和地也子时道出而要于就下得可你"
    runs += [
        "".join(rng.choice(common + RARE_CJK) for _ in range(rng.randint(1, 25)))
        for _ in range(300)
    ]
    runs += ["乂", "乂乂", "乂" * 7, "好", "好好", "的的的的", "哈" * 40]
    runs += RE_ZH.findall(long_texts(1, seed=7, length=800)[0])
    return runs


def segment(runs: list[str]) -> list[tuple[str, ...]]:
    from pipeline.compute.sentiment.loader import get_scorer

    return segment_runs(get_scorer("snownlp").tables, runs)


def test_segments_like_snownlp(single_seg) -> None:
    runs = sample_runs()
    assert segment(runs) == [tuple(single_seg(r)) for r in runs]


def test_chunking_does_not_change_words(monkeypatch, single_seg) -> None:
    runs = sample_runs()[:200]
    whole = segment(runs)
    monkeypatch.setattr(segmenter, "CHUNK_CHARS", 16)
    assert segment(runs) == whole == [tuple(single_seg(r)) for r in runs]


def test_words_rebuild_each_run() -> None:
    runs = sample_runs()
    for run, words in zip(runs, segment(runs), strict=True):
        assert "".join(words) == run
    assert segment([]) == []
