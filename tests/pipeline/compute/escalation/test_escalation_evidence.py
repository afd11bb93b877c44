"""Negative evidence: how the finder reads a text, on a small vocabulary of our own."""

from __future__ import annotations

import pytest

from pipeline.compute.escalation.evidence import (
    EvidenceFinder,
    Vocabulary,
    is_a_not_a,
    is_question,
    normalise,
)

VOCABULARY = Vocabulary(
    negative=frozenset({"失望", "垃圾", "问题", "麻烦", "太小", "没法"}),
    negative_chars=frozenset({"差", "脏"}),
    intensifiers=frozenset({"太", "很", "非常"}),
    degree=frozenset({"太", "很", "非常", "是很"}),
    negators=frozenset({"不", "没", "没有", "不是"}),
    positive=frozenset({"好", "满意", "干净"}),
)
FINDER = EvidenceFinder(VOCABULARY)


@pytest.mark.parametrize(("text", "found"), [
    ("太失望了", ("失望",)),
    ("房间很脏，服务非常差", ("很脏", "非常差")),
    ("差不多就行", ()),                          # a negative character needs a degree word
    ("不满意", ("不满意",)),                     # negated positive
    ("不是很满意", ("不是很满意",)),             # negator, degree, positive
    ("不好", ("不好",)),                         # 好 is also a degree word: positive first
    ("没问题", ()),                              # a negated negative is no evidence
    ("不太小", ()),
    ("不好意思，麻烦你看一下", ()),              # politeness formulas
    ("太麻烦了", ("麻烦",)),
    ("有没有人知道", ()),                        # A-not-A: no negation
    ("《垃圾分类指南》到了", ()),                # a title names, it does not judge
    ("@垃圾王 在吗", ()),                        # nor does an @name
    ("垃圾，没法用，很失望", ("垃圾", "没法", "失望")),
    ("垃圾垃圾垃圾", ("垃圾",)),                 # distinct, in order of appearance
])
def test_finder(text: str, found: tuple[str, ...]) -> None:
    assert FINDER.find(text) == found


@pytest.mark.parametrize(("text", "question"), [
    ("怎么退款？", True),
    ("请问退款多久到账", True),
    ("这个能用吗", True),
    ("是不是坏了", True),
    ("有没有优惠[捂脸]", True),
    ("退款到账了～", False),
    ("太差了！", False),
])
def test_questions(text: str, question: bool) -> None:
    assert is_question(text) == question


def test_a_not_a_needs_the_same_character_on_both_sides() -> None:
    assert is_a_not_a("好不好", 1) and is_a_not_a("有没有", 1)
    assert not is_a_not_a("好不了", 1) and not is_a_not_a("不好", 0)


def test_normalise_folds_width_and_case_and_drops_what_names_rather_than_judges() -> None:
    assert normalise("ＡＢＣ 太差了 https://x.cn/a [捂脸]").split() == ["abc", "太差了"]
