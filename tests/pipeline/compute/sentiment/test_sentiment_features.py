"""Feature extraction of the improved model."""

from __future__ import annotations

import pytest

from pipeline.compute.sentiment.features import SCOPE_MARK, load_lexicon_lines
from pipeline.compute.sentiment.improved import ImprovedScorer


@pytest.fixture(scope="module")
def featurizer():
    return ImprovedScorer.load().featurizer


def test_normalise_folds_width_case_traditional_and_noise(featurizer) -> None:
    assert featurizer.normalise("ＯＫ！質量") == "ok!质量"
    assert featurizer.normalise("回复@张三:好！！！！！ https://t.cn/x") == "回复@:好!!! http"
    assert featurizer.normalise("哈哈哈哈哈哈") == "哈哈哈"
    assert featurizer.normalise(" \n ") == ""


def test_negation_scope_marks_following_grams(featurizer) -> None:
    grams, _ = featurizer.parts("不是很满意")
    assert SCOPE_MARK + "很满意" in grams and "很满意" not in grams
    plain, _ = featurizer.parts("非常满意")
    assert "满意" in plain and not any(g.startswith(SCOPE_MARK) for g in plain)


def test_lexicon_counts_and_stickers(featurizer) -> None:
    _, extras = featurizer.parts("[微笑]很好，但是不好用😡")
    assert extras["S:[微笑]"] == 1.0
    assert extras["L:pos"] >= 2 and extras["L:neg"] >= 2
    _, negated = featurizer.parts("并不是很满意")
    assert negated.get("L:pos~") == 1.0
    _, empty = featurizer.parts("")
    assert empty == {"EMPTY": 1.0}


def test_lexicon_matches_longest_first() -> None:
    lex = load_lexicon_lines(["pos\t好", "pos\t很好", "neg\t不好", "negator\t不"])
    assert [m[0] for m in lex.matches("很好不好好")] == ["很好", "不好", "好"]
    with pytest.raises(ValueError):
        load_lexicon_lines(["odd\tx"])
    with pytest.raises(ValueError):
        load_lexicon_lines(["negator\t不", "notneg\t不"])
